"""Guardrails on the model path: a prompt is inspected (and masked) before it goes upstream, and
the answer is filtered on its way back.

`Guard.inspect` reads the agent's effective guardrails (memoised per policy set), walks the
request's texts (`prompts.slots`) and:
- scores user texts for injection and matches them against denied topics;
- finds secrets in every text (mask replaces them with `<SECRET>`);
- masks PII with the agent's own masking section (the same detector and operators as tool
  results; with tokens, the tokens it issued are remembered so the answer gets the values back);
- scores tool results (role tool, tool_result blocks) for instructions aimed at the model.
A `block` raises GuardrailBlocked before any upstream request, reservation or ledger charge.
"""

from __future__ import annotations

import asyncio
import weakref
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from broker.catalog import AgentIdentity
from broker.guard import injection
from broker.guard.answers import OutputPlan
from broker.guard.classifier import ClassifierUnavailable
from broker.guard.prompts import Slot, slots
from broker.guard.topics import TopicMatcher
from broker.guard.verdicts import Verdict
from broker.llm.errors import GuardrailBlocked, GuardrailUnavailable
from broker.pii.detector import PATTERN_ENTITIES, Detector
from broker.pii.maskers import Maskers
from broker.pii.plan import masking_plan
from broker.pii.vault import TOKEN, get_all
from policies import PolicySet
from policies.guardrails import ClassifierRule, Guardrails, InjectionRule, guardrails_for

Classify = Callable[[ClassifierRule, str], Awaitable[float]]
"""(the classifier rule, the prompt's user text as masked) -> its injection score, or
ClassifierUnavailable."""

_SECRETS = Detector(["SECRET"])
_PII = Detector([e for e in PATTERN_ENTITIES if e != "SECRET"])
_BOTH = Detector()
_MEMO_LIMIT = 10_000
OFF_LOOP_CHARS = 8 * 1024


@dataclass(frozen=True, slots=True)
class GuardPlan:
    """The effective guardrails of one agent under one policy set, compiled."""

    rules: Guardrails
    topics: TopicMatcher | None

    @classmethod
    def build(cls, rules: Guardrails) -> GuardPlan:
        return cls(rules, TopicMatcher(rules.topics) if rules.topics else None)


@dataclass(slots=True)
class Inspection:
    verdicts: list[Verdict] = field(default_factory=list)
    output: OutputPlan = field(default_factory=OutputPlan)


_plans: weakref.WeakKeyDictionary[PolicySet, dict[tuple[str, str | None], GuardPlan | None]] = (
    weakref.WeakKeyDictionary()
)


def plan_of(policy_set: PolicySet, agent: AgentIdentity) -> GuardPlan | None:
    """The agent's guardrails, None when it has none (a dictionary lookup when warm)."""
    memo = _plans.get(policy_set)
    if memo is None:
        memo = _plans[policy_set] = {}
    subject = agent.subject
    key = (subject.name, subject.team)
    if key not in memo:
        if len(memo) >= _MEMO_LIMIT:
            memo.clear()
        rules = guardrails_for(policy_set.policies, subject)
        memo[key] = GuardPlan.build(rules) if rules.active else None
    return memo[key]


class Guard:
    def __init__(self, maskers: Maskers) -> None:
        self.maskers = maskers

    async def inspect(
        self,
        plan: GuardPlan,
        policy_set: PolicySet,
        agent: AgentIdentity,
        payload: dict[str, Any],
        classify: Classify | None = None,
    ) -> Inspection:
        """Check (and mask, in place) the request's texts; raise GuardrailBlocked to stop the call.
        `classify` reaches the injection classifier model when the policy names one."""
        rules, found = plan.rules, Inspection()
        texts = slots(payload)
        asked = [slot for slot in texts if slot.role == "user"]
        undecided: injection.Score | None = None
        if rules.injection is not None and rules.injection.action != "off":
            undecided = await self._injection(
                found, asked, rules.injection.action, rules.injection.threshold, "injection"
            )
            if rules.injection.classifier is None or classify is None:
                undecided = None
        if rules.tool_results != "off":
            results = [slot for slot in texts if slot.role == "tool"]
            await self._injection(found, results, rules.tool_results, 0.6, "tool_results")
        if plan.topics is not None:
            for match in plan.topics.match("\n".join(slot.text for slot in asked)):
                verdict = Verdict(f"topic:{match.topic}", match.action, "prompt", score=match.similarity)
                _record(found, verdict, f"the prompt falls under the denied topic '{match.topic}'")
        if rules.secrets != "off":
            self._secrets(found, texts, rules.secrets)
        if rules.pii != "off":
            await self._pii(found, texts, rules.pii, policy_set, agent)
        if undecided is not None and asked and rules.injection is not None and classify is not None:
            await self._classified(found, asked, rules.injection, undecided, classify)
        output = rules.output
        found.output.pii, found.output.secrets = output.pii, output.secrets
        if output.pii != "off" or output.secrets != "off":
            found.output.detector = (
                _BOTH
                if output.pii != "off" and output.secrets != "off"
                else (_PII if output.pii != "off" else _SECRETS)
            )
        if output.topics != "off" and plan.topics is not None:
            found.output.topics, found.output.topic_action = plan.topics, output.topics
        return found

    async def _classified(
        self, found: Inspection, asked: list[Slot], rule: InjectionRule, heuristic: injection.Score,
        classify: Classify,
    ) -> None:  # fmt: skip
        """The classifier's score (of the prompt as masked) combined with the heuristics'."""
        assert rule.classifier is not None
        try:
            score = await classify(rule.classifier, "\n".join(slot.text for slot in asked))
        except ClassifierUnavailable as exc:
            closed = rule.classifier.on_error == "closed"
            verdict = Verdict(
                "injection.classifier", "block" if closed else "flag", "prompt", detail="unavailable"
            )
            found.verdicts.append(verdict)
            if closed:
                raise GuardrailUnavailable(
                    f"{exc}; the agent's guardrails fail closed without it (rule 'injection.classifier'), "
                    "so the call was not sent: try again later or ask the operator",
                    verdict.as_dict(),
                ) from None
            return
        combined = round(1.0 - (1.0 - heuristic.value) * (1.0 - score), 4)
        if combined >= rule.threshold:
            detail = ",".join((*heuristic.signals, f"classifier={score:.2f}"))
            verdict = Verdict("injection", rule.action, "prompt", score=combined, detail=detail)
            why = f"score {combined:.2f}: heuristics {heuristic.value:.2f}, classifier {score:.2f}"
            _record(found, verdict, f"the prompt looks like a prompt injection or jailbreak attempt ({why})")

    async def _injection(
        self, found: Inspection, texts: list[Slot], action: str, threshold: float, rule: str
    ) -> injection.Score | None:
        """Record (or block) when the heuristics fire; else their best score, for the classifier."""
        best = injection.NO_SCORE
        for slot in texts:
            text = slot.text
            # a long text takes tens of milliseconds or more to score: off the event loop
            scored = (
                injection.score(text)
                if len(text) < OFF_LOOP_CHARS
                else await asyncio.to_thread(injection.score, text)
            )
            if scored.value > best.value:
                best = scored
        if best.value < threshold:
            return best
        if best.value >= threshold:
            where = "tool_result" if rule == "tool_results" else "prompt"
            verdict = Verdict(rule, action, where, score=best.value, detail=",".join(best.signals))
            what = (
                "a tool result carries instructions aimed at the model"
                if where == "tool_result"
                else ("the prompt looks like a prompt injection or jailbreak attempt")
            )
            _record(found, verdict, f"{what} (score {best.value:.2f})")
        return None

    def _secrets(self, found: Inspection, texts: list[Slot], action: str) -> None:
        count = 0
        for slot in texts:
            spans = _SECRETS.find(slot.text)
            if not spans:
                continue
            count += len(spans)
            if action == "mask":
                text = slot.text
                for begin, end, _entity, _score in reversed(spans):
                    text = text[:begin] + "<SECRET>" + text[end:]
                slot.write(text)
        if count:
            verdict = Verdict("secrets", action, "prompt", detail=f"SECRET={count}")
            _record(found, verdict, f"the prompt contains {count} secret{'s' if count > 1 else ''} "
                    "(an API key, a private key or a token)")  # fmt: skip

    async def _pii(
        self, found: Inspection, texts: list[Slot], action: str, policy_set: PolicySet, agent: AgentIdentity
    ) -> None:
        counts: Counter[str] = Counter()
        if action != "mask":
            for slot in texts:
                counts.update(entity for _, _, entity, _ in _PII.find(slot.text))
        else:
            masker = self.maskers.for_plan(masking_plan(policy_set, agent.subject))
            issued: set[str] = set()
            for slot in texts:
                if slot.role == "system":
                    continue  # the app's own instructions are not the user's data
                masked, masked_counts = await masker.mask_text(agent.id, slot.text)
                if masked_counts:
                    counts.update(masked_counts)
                    issued.update(m.group() for m in TOKEN.finditer(masked))
                    slot.write(masked)
            if issued and masker.uses_tokens and self.maskers.vault is not None:
                ordered = sorted(issued)
                values = await get_all(self.maskers.vault, agent.id, ordered)
                found.output.restore = {t: v for t, v in zip(ordered, values, strict=True) if v is not None}
        if counts:
            detail = ",".join(f"{entity}={n}" for entity, n in sorted(counts.items()))
            _record(
                found, Verdict("pii", action, "prompt", detail=detail), f"the prompt contains PII ({detail})"
            )


def _record(found: Inspection, verdict: Verdict, message: str) -> None:
    found.verdicts.append(verdict)
    if verdict.action == "block":
        raise GuardrailBlocked(message, verdict.as_dict())
