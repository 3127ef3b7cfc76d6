"""The guardrails section of a policy: what the LLM proxy checks in prompts and answers.

    guardrails:
      pii: mask                  # prompts masked with the agent's `masking` section before the
                                 # provider sees them; tokens in the answer are put back
      secrets: block             # API keys, private keys... in a prompt: off | flag | mask | block
      injection: {action: block, threshold: 0.6}   # prompt injection / jailbreak: off | flag | block
        # optional: classifier: {model: guard, on_error: open}  (a model route the gateway serves)
      tool_results: flag         # instructions aimed at the model inside tool results: off | flag | block
      topics:                    # denied topics, refused on the way in (and out, see output)
        - name: legal-advice
          description: Requests for legal advice about a specific situation.
          examples: ["Can I sue my landlord for the deposit?", "Is my contract enforceable?"]
      output: {pii: mask, secrets: block, topics: block}   # answers, streams included

Actions, weakest to strongest: off < flag (recorded in the ledger and metrics, the call goes
on) < mask (the matched text is replaced) < block (HTTP 400 naming the rule, or an SSE error
event mid-stream; a blocked prompt never reaches the provider and costs nothing).

Where several policies apply to an agent, `guardrails_for` merges them: per check the
strongest action wins, the lowest threshold wins, topics add up. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

if TYPE_CHECKING:  # policies.model imports this module for the Policy field
    from policies.model import Policy, Subject

Name = Annotated[str, StringConstraints(min_length=1, max_length=100, strip_whitespace=False)]

Action = Literal["off", "flag", "mask", "block"]
FlagOrBlock = Literal["off", "flag", "block"]
STRENGTH: dict[str, int] = {"off": 0, "flag": 1, "mask": 2, "block": 3}


def strongest(actions: Iterable[str]) -> str:
    return max(actions, key=STRENGTH.__getitem__, default="off")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ClassifierRule(_Strict):
    """A classifier model (e.g. a guard model behind any OpenAI-compatible provider) that scores
    prompts beside the heuristics, reached through one of the gateway's own model routes."""

    model: Name = Field(description="A model name the gateway serves: a route, or provider/model.")
    on_error: Literal["open", "closed"] = Field(
        default="open",
        description="When the classifier cannot answer: `open` goes on with the heuristics' score alone "
        "(the verdict says so), `closed` refuses the call with a 503.",
    )
    max_chars: int = Field(
        default=8000, ge=100, le=200_000, description="Characters of the prompt sent (the last ones)."
    )


class InjectionRule(_Strict):
    """Prompt injection and jailbreak attempts, scored 0..1 by the gateway's shipped heuristics
    (and, optionally, a classifier model: the two scores combine as 1 - (1 - h)(1 - c))."""

    action: FlagOrBlock = Field(default="flag", description="What a score at or over the threshold does.")
    threshold: float = Field(default=0.6, ge=0.05, le=1.0, description="Scores at or over this fire.")
    classifier: ClassifierRule | None = None


class TopicRule(_Strict):
    """A denied topic, recognised by its description and examples."""

    name: Name
    description: str = Field(min_length=1, description="What the topic is, in a sentence.")
    examples: list[str] = Field(default_factory=list, description="Prompts that belong to the topic.")
    action: FlagOrBlock = "block"
    threshold: float = Field(default=0.5, ge=0.05, le=1.0, description="Similarity at or over this fires.")


class OutputRules(_Strict):
    """Checks on the model's answers, streams included (checked as they pass)."""

    pii: Literal["off", "flag", "mask", "block"] = "off"
    secrets: Action = "off"
    topics: FlagOrBlock = "off"


class Guardrails(_Strict):
    pii: Literal["off", "flag", "mask", "block"] = Field(
        default="off",
        description="PII in prompts: `mask` applies the agent's masking section before the provider sees "
        "the prompt (with token masking the answer gets the real values back).",
    )
    secrets: Action = Field(default="off", description="Secrets (API keys, private keys, tokens) in prompts.")
    injection: InjectionRule | None = None
    tool_results: FlagOrBlock = Field(
        default="off",
        description="Tool results (role tool, tool_result blocks) that carry instructions aimed at the "
        "model.",
    )
    topics: list[TopicRule] = Field(default_factory=list)
    output: OutputRules = Field(default_factory=OutputRules)

    @property
    def active(self) -> bool:
        return self != NO_GUARDRAILS


NO_GUARDRAILS = Guardrails()


def merge(sections: Iterable[Guardrails]) -> Guardrails:
    """The effective guardrails of several policies: strongest action, lowest threshold, all topics."""
    found = list(sections)
    if not found:
        return NO_GUARDRAILS
    if len(found) == 1:
        return found[0]
    injections = [g.injection for g in found if g.injection is not None]
    injection = None
    if injections:
        classifiers = [i.classifier for i in injections if i.classifier is not None]
        classifier = None
        if classifiers:  # the first one named; any policy failing closed makes it fail closed
            closed = any(c.on_error == "closed" for c in classifiers)
            classifier = classifiers[0].model_copy(update={"on_error": "closed" if closed else "open"})
        injection = InjectionRule(
            action=strongest(i.action for i in injections),
            threshold=min(i.threshold for i in injections),
            classifier=classifier,
        )
    topics: dict[str, TopicRule] = {}
    for section in found:
        for topic in section.topics:
            known = topics.get(topic.name)
            if known is None or STRENGTH[topic.action] > STRENGTH[known.action]:
                topics[topic.name] = topic
    return Guardrails(
        pii=strongest(g.pii for g in found),
        secrets=strongest(g.secrets for g in found),
        injection=injection,
        tool_results=strongest(g.tool_results for g in found),
        topics=list(topics.values()),
        output=OutputRules(
            pii=strongest(g.output.pii for g in found),
            secrets=strongest(g.output.secrets for g in found),
            topics=strongest(g.output.topics for g in found),
        ),
    )


def guardrails_for(policies: Iterable[Policy], subject: Subject) -> Guardrails:
    """The effective guardrails of the policies that name `subject` (its agent id or its team)."""
    return merge(
        p.guardrails
        for p in policies
        if p.guardrails is not None
        and (subject.name in p.agents or (subject.team is not None and subject.team in p.teams))
    )
