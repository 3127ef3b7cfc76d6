"""The cache section of a policy: which tools' results may be reused for its agents, and how.

    cache:
      "weather.*": {ttl_seconds: 300, shared: true}   # one entry serves every agent alike
      "crm.get_contact": {ttl_seconds: 30}             # per agent (the default)
      "crm.search_*": {ttl_seconds: 60, bypass: false} # callers may not skip the cache
      "weather.alerts": {ttl_seconds: 0}               # never cached

Keys are tool names or globs, or resource URI patterns (`"broker://crm/*": {ttl_seconds: 0}`).
A tool without an entry is cached only when its annotations say it is read-only and
idempotent, for the gateway's default TTL, per agent; a resource read without an entry is
cached like such a tool (reading is read-only by definition).

Where several entries of the policies that apply to an agent match one tool, they merge
conservatively: the shortest TTL wins (0 turns caching off), results are shared only when
every entry says `shared`, and a caller may bypass only when no entry says `bypass: false`.
Pure: no I/O, no broker imports.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic_core import PydanticCustomError

from policies.access import is_uri_pattern, resource_pattern_problem
from policies.patterns import compile_pattern, pattern_problem

if TYPE_CHECKING:
    from policies.model import Policy, Subject

MAX_TTL_SECONDS = 7 * 86400
_RULE_CACHE_SIZE = 65536


def _check_cache_pattern(value: str) -> str:
    problem = resource_pattern_problem(value) if is_uri_pattern(value) else pattern_problem(value)
    if problem is not None:
        raise PydanticCustomError("tool_pattern", "{problem}", {"problem": problem})
    return value


CachePattern = Annotated[str, AfterValidator(_check_cache_pattern)]
"""A tool pattern, or a resource URI pattern (`broker://...`, or an upstream's own URI: `file:///*`)."""


class CacheSetting(BaseModel):
    """How results of the matching tools are cached for this policy's agents and teams."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ttl_seconds: float = Field(
        ge=0,
        le=MAX_TTL_SECONDS,
        description="How long a result is reused, in seconds; 0 never caches the tool.",
        examples=[300],
    )
    shared: bool = Field(
        default=False,
        description="One entry serves every agent whose masking is the same (and issues no tokens) and "
        "whose connector uses no per-agent credential. Default: each agent has its own entries.",
    )
    bypass: bool = Field(
        default=True,
        description="Whether a caller may ask for a fresh result with _meta {'broker/cache': 'bypass'}; "
        "when false the request is ignored and the cache answers.",
    )


@dataclass(frozen=True, slots=True)
class CacheRule:
    """The merged cache setting for one subject and tool."""

    ttl_seconds: float
    shared: bool
    bypass: bool
    patterns: tuple[str, ...]
    """The policy keys that set it, as 'policy:pattern', for explanations."""


def merge(settings: Iterable[tuple[str, CacheSetting]]) -> CacheRule | None:
    """Merge the matching (label, setting) pairs conservatively; None when there are none."""
    found = list(settings)
    if not found:
        return None
    return CacheRule(
        ttl_seconds=min(s.ttl_seconds for _, s in found),
        shared=all(s.shared for _, s in found),
        bypass=all(s.bypass for _, s in found),
        patterns=tuple(label for label, _ in found),
    )


class CacheRules:
    """The cache sections of a set of policies, compiled once; answers are memoised."""

    def __init__(self, policies: Iterable[Policy]) -> None:
        self._policies = tuple(
            (
                policy.name,
                frozenset(policy.agents),
                frozenset(policy.teams),
                tuple((pattern, compile_pattern(pattern), s) for pattern, s in policy.cache.items()),
            )
            for policy in policies
            if policy.cache
        )
        self._rule = functools.lru_cache(maxsize=_RULE_CACHE_SIZE)(self._find)

    def rule_for(self, subject: Subject, tool: str) -> CacheRule | None:
        """The merged setting of every applicable policy's matching entries, or None."""
        if not self._policies:
            return None
        rule: CacheRule | None = self._rule(subject.name, subject.team, tool)
        return rule

    def _find(self, name: str, team: str | None, tool: str) -> CacheRule | None:
        return merge(
            (f"{policy}:{pattern}", setting)
            for policy, agents, teams, entries in self._policies
            if name in agents or (team is not None and team in teams)
            for pattern, matches, setting in entries
            if matches(tool)
        )
