"""The pure decision: may this subject call this tool with these arguments?

Semantics, in order:

1. The policies that apply to a subject are those naming the agent in `agents` or its team
   in `teams`. Nothing else is consulted: default deny.
2. A deny pattern of any applicable policy that matches the tool refuses it, whatever allows it.
3. Otherwise the tool is granted if an allow pattern of any applicable policy matches it.
4. For a granted call with arguments, every constraint of every applicable policy whose key
   matches the tool must hold (conjunctive, whichever policy granted the tool). Arguments
   absent from the call are not checked; the tool's input schema decides required-ness.

Ties are broken by policy order, so reasons are deterministic. A PolicySet is immutable, so
the tool-level part of a decision (steps 1-3 and the list of checks) is cached per subject
and tool; only argument checks run on every call.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from policies.constraints import ArgumentCheck
from policies.model import Decision, Policy, Subject, Violation
from policies.patterns import Matcher, compile_pattern, connector_of

_SUBJECT_CACHE_SIZE = 4096
_VERDICT_CACHE_SIZE = 65536  # bounded: tool names in calls come from agents
_ABSENT = object()


@dataclass(frozen=True, slots=True)
class _Rule:
    pattern: str
    matches: Matcher


@dataclass(frozen=True, slots=True)
class _CompiledPolicy:
    name: str
    agents: frozenset[str]
    teams: frozenset[str]
    allow: tuple[_Rule, ...]
    deny: tuple[_Rule, ...]
    constraints: tuple[tuple[_Rule, tuple[ArgumentCheck, ...]], ...]

    @classmethod
    def build(cls, policy: Policy) -> _CompiledPolicy:
        def rule(pattern: str) -> _Rule:
            return _Rule(pattern, compile_pattern(pattern))

        constraints = tuple(
            (rule(key), tuple(ArgumentCheck(policy.name, key, arg, c) for arg, c in by_argument.items()))
            for key, by_argument in policy.constraints.items()
        )
        return cls(
            name=policy.name,
            agents=frozenset(policy.agents),
            teams=frozenset(policy.teams),
            allow=tuple(map(rule, policy.allow)),
            deny=tuple(map(rule, policy.deny)),
            constraints=constraints,
        )


@dataclass(frozen=True, slots=True)
class _Verdict:
    """The argument-independent part of a decision, and the checks left to run."""

    decision: Decision
    checks: tuple[ArgumentCheck, ...] = ()


@dataclass(frozen=True, slots=True)
class Grants:
    """What one subject may see, to build its tool catalog without asking about every tool blindly."""

    subject: Subject
    policies: tuple[str, ...]
    """Names of the policies that apply to the subject, in set order."""
    allow: tuple[str, ...]
    deny: tuple[str, ...]
    connectors: frozenset[str] | None
    """Connectors some allow pattern is limited to; None when a pattern spans connectors.
    A superset: denies are not subtracted. Empty when nothing is granted."""
    _policy_set: PolicySet = field(repr=False, compare=False)

    @property
    def empty(self) -> bool:
        """True when no tool at all can be granted: the catalog is empty."""
        return not self.allow

    def filter(self, tools: Iterable[str]) -> list[str]:
        """The tools, in order, that the subject may see."""
        if self.empty:
            return []
        return [tool for tool in tools if self._policy_set.visible(self.subject, tool)]


class PolicySet:
    """An immutable, versioned set of policies, compiled once; the input of every decision."""

    def __init__(self, policies: Iterable[Policy] = (), version: int = 0) -> None:
        self.policies: tuple[Policy, ...] = tuple(policies)
        self.version = version
        names = [p.name for p in self.policies]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"policy names must be unique; repeated: {', '.join(map(repr, duplicates))}")
        self._compiled = tuple(map(_CompiledPolicy.build, self.policies))
        self._applicable = functools.lru_cache(maxsize=_SUBJECT_CACHE_SIZE)(self._find_applicable)
        self._verdict = functools.lru_cache(maxsize=_VERDICT_CACHE_SIZE)(self._judge)

    def __repr__(self) -> str:
        return f"PolicySet(version={self.version}, policies={[p.name for p in self.policies]})"

    def decide(self, subject: Subject, tool: str, arguments: Mapping[str, Any] | None) -> Decision:
        """Decide one call. `arguments=None` skips argument constraints (use it only for listing)."""
        verdict: _Verdict = self._verdict(subject.name, subject.team, tool)
        if arguments is None or not verdict.checks:
            return verdict.decision
        violations: list[Violation] = []
        for check in verdict.checks:
            value = arguments.get(check.argument, _ABSENT)
            if value is not _ABSENT and (violation := check.check(value)) is not None:
                violations.append(violation)
        if not violations:
            return verdict.decision
        reason = "; ".join(v.reason for v in violations)
        return Decision(
            allowed=False, reason=reason, policy=violations[0].policy, violations=tuple(violations)
        )

    def visible(self, subject: Subject, tool: str) -> bool:
        """Whether the tool belongs in the subject's catalog (granted, arguments aside)."""
        verdict: _Verdict = self._verdict(subject.name, subject.team, tool)
        return verdict.decision.allowed

    def grants_for(self, subject: Subject) -> Grants:
        applicable: tuple[_CompiledPolicy, ...] = self._applicable(subject.name, subject.team)
        allow = tuple(dict.fromkeys(r.pattern for p in applicable for r in p.allow))
        deny = tuple(dict.fromkeys(r.pattern for p in applicable for r in p.deny))
        connectors = {connector_of(pattern) for pattern in allow}
        return Grants(
            subject=subject,
            policies=tuple(p.name for p in applicable),
            allow=allow,
            deny=deny,
            connectors=None if None in connectors else frozenset(c for c in connectors if c is not None),
            _policy_set=self,
        )

    def _find_applicable(self, name: str, team: str | None) -> tuple[_CompiledPolicy, ...]:
        return tuple(p for p in self._compiled if name in p.agents or (team is not None and team in p.teams))

    def _judge(self, name: str, team: str | None, tool: str) -> _Verdict:
        applicable: tuple[_CompiledPolicy, ...] = self._applicable(name, team)
        for policy in applicable:
            for rule in policy.deny:
                if rule.matches(tool):
                    reason = f"denied by policy {policy.name!r} (deny {rule.pattern!r})"
                    return _Verdict(Decision(allowed=False, reason=reason, policy=policy.name))
        for policy in applicable:
            for rule in policy.allow:
                if rule.matches(tool):
                    checks = tuple(
                        check
                        for p in applicable
                        for key, key_checks in p.constraints
                        if key.matches(tool)
                        for check in key_checks
                    )
                    reason = f"granted by policy {policy.name!r} (allow {rule.pattern!r})"
                    return _Verdict(Decision(allowed=True, reason=reason, policy=policy.name), checks)
        return _Verdict(Decision(allowed=False, reason=_no_grant_reason(name, team, tool, applicable)))


def _no_grant_reason(name: str, team: str | None, tool: str, applicable: tuple[_CompiledPolicy, ...]) -> str:
    who = f"agent {name!r} ({'no team' if team is None else f'team {team!r}'})"
    if not applicable:
        return f"no policy grants {tool!r} to {who}: no policy names this agent or its team"
    considered = ", ".join(repr(p.name) for p in applicable)
    return f"no policy grants {tool!r} to {who}; applicable policies: {considered}"


def decide(policies: PolicySet, subject: Subject, tool: str, arguments: Mapping[str, Any] | None) -> Decision:
    """Decide whether `subject` may call `tool` with `arguments` under `policies`. Pure.

    Pass the call's real arguments (an empty mapping if it has none): None skips argument
    constraints, which is right only for catalog listing.
    """
    return policies.decide(subject, tool, arguments)
