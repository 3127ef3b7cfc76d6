"""The sampling section of a policy: may the gateway answer an upstream's sampling requests itself?

An MCP upstream may ask the calling client's model for a completion (`sampling/createMessage`)
while one of its tools runs. Without a sampling section the gateway only relays that request
to the client, when the client declared `sampling`. With one, the gateway's own LLM proxy
answers it, under the agent's model policy, budgets and rate limits, and the usage is the
agent's (the ledger row names the connector and tool that asked):

    sampling:
      serve_with: fast        # the model (or alias) that answers; the agent's `models` must allow it
      max_tokens: 512         # the most tokens an answer may take (the upstream's maxTokens, capped)
      prefer: client          # client: relay to a client that declared sampling, else serve;
                              # gateway: always serve (the client never sees the request)
      tools: ["docs.*"]       # whose requests are served (tool names or globs); default: all

Where several policies of an agent carry a sampling section, `sampling_for` merges them: the
model is that of the first such policy by name, the lowest `max_tokens` wins, `prefer: client`
wins (relaying costs the gateway nothing), and the tools add up. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field

from policies.arguments import ToolPattern
from policies.models_access import ModelPattern
from policies.patterns import Matcher, compile_pattern

if TYPE_CHECKING:  # policies.model imports this module for the Policy field
    from policies.model import Policy, Subject

DEFAULT_MAX_TOKENS = 1024


class SamplingPolicy(BaseModel):
    """How the gateway answers sampling requests from the upstreams this policy's agents call."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    serve_with: ModelPattern = Field(
        description="The model name or alias (as a /v1 client would name it) that answers sampling "
        "requests; the agent's models section must allow it.",
        examples=["fast"],
    )
    max_tokens: int = Field(
        default=DEFAULT_MAX_TOKENS,
        ge=1,
        le=1_000_000,
        description="The most completion tokens one sampling answer may use; an upstream asking for more "
        "gets this many.",
    )
    prefer: Literal["client", "gateway"] = Field(
        default="client",
        description="client: relay to a calling client that declared sampling and serve only the others; "
        "gateway: always answer with serve_with.",
    )
    tools: list[ToolPattern] = Field(
        default_factory=lambda: ["*"],
        min_length=1,
        description="The tools whose sampling requests the gateway serves (names or globs).",
        examples=[["docs.*"]],
    )


@dataclass(frozen=True, slots=True)
class SamplingRule:
    """The effective sampling setting of one agent."""

    serve_with: str
    max_tokens: int
    prefer: str
    policy: str
    """The policy the model comes from (named in refusals)."""
    _tools: tuple[Matcher, ...]

    def covers(self, tool: str) -> bool:
        return any(matches(tool) for matches in self._tools)


def sampling_for(policies: Iterable[Policy], subject: Subject) -> SamplingRule | None:
    """The effective sampling setting of the policies naming `subject`; None: relay only."""
    found = sorted(
        (
            p
            for p in policies
            if p.sampling is not None
            and (subject.name in p.agents or (subject.team is not None and subject.team in p.teams))
        ),
        key=lambda p: p.name,
    )
    if not found:
        return None
    sections = [p.sampling for p in found if p.sampling is not None]
    patterns = dict.fromkeys(pattern for section in sections for pattern in section.tools)
    return SamplingRule(
        serve_with=sections[0].serve_with,
        max_tokens=min(section.max_tokens for section in sections),
        prefer="client" if any(section.prefer == "client" for section in sections) else "gateway",
        policy=found[0].name,
        _tools=tuple(compile_pattern(pattern) for pattern in patterns),
    )
