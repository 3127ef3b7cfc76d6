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

Resources (by gateway URI, the `resources:` section) and prompts (by name, the `prompts:`
section, with argument constraints) are decided the same way, each from its own section:
a tool grant never grants a resource or a prompt.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from policies.constraints import ArgumentCheck
from policies.model import Decision, Policy, Subject, Violation
from policies.patterns import Matcher, compile_pattern, connector_of

TOOL, RESOURCE, PROMPT = "tool", "resource", "prompt"
"""What a decision is about: each reads its own section of the policies."""

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
    sections: Mapping[str, _Section]
    """The rules per kind (TOOL, RESOURCE, PROMPT)."""

    @classmethod
    def build(cls, policy: Policy) -> _CompiledPolicy:
        tools = _Section.build(policy.name, policy.allow, policy.deny, policy.constraints)
        resources = policy.resources
        prompts = policy.prompts
        return cls(
            name=policy.name,
            agents=frozenset(policy.agents),
            teams=frozenset(policy.teams),
            allow=tools.allow,
            deny=tools.deny,
            constraints=tools.constraints,
            sections={
                TOOL: tools,
                RESOURCE: _Section.build(policy.name, resources.allow, resources.deny, {})
                if resources is not None
                else _Section(),
                PROMPT: _Section.build(policy.name, prompts.allow, prompts.deny, prompts.constraints)
                if prompts is not None
                else _Section(),
            },
        )


@dataclass(frozen=True, slots=True)
class _Section:
    allow: tuple[_Rule, ...] = ()
    deny: tuple[_Rule, ...] = ()
    constraints: tuple[tuple[_Rule, tuple[ArgumentCheck, ...]], ...] = ()

    @classmethod
    def build(
        cls,
        policy: str,
        allow: Iterable[str],
        deny: Iterable[str],
        constraints: Mapping[str, Mapping[str, Any]],
    ) -> _Section:
        def rule(pattern: str) -> _Rule:
            return _Rule(pattern, compile_pattern(pattern))

        return cls(
            allow=tuple(map(rule, allow)),
            deny=tuple(map(rule, deny)),
            constraints=tuple(
                (rule(key), tuple(ArgumentCheck(policy, key, arg, c) for arg, c in by_argument.items()))
                for key, by_argument in constraints.items()
            ),
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
        self._other_verdict = functools.lru_cache(maxsize=_VERDICT_CACHE_SIZE)(self._judge_other)

    def __repr__(self) -> str:
        return f"PolicySet(version={self.version}, policies={[p.name for p in self.policies]})"

    def decide(self, subject: Subject, tool: str, arguments: Mapping[str, Any] | None) -> Decision:
        """Decide one call. `arguments=None` skips argument constraints (use it only for listing)."""
        verdict: _Verdict = self._verdict(subject.name, subject.team, tool)
        if arguments is None or not verdict.checks:
            return verdict.decision
        return _with_arguments(verdict, arguments)

    def visible(self, subject: Subject, tool: str) -> bool:
        """Whether the tool belongs in the subject's catalog (granted, arguments aside)."""
        verdict: _Verdict = self._verdict(subject.name, subject.team, tool)
        return verdict.decision.allowed

    def decide_resource(self, subject: Subject, uri: str) -> Decision:
        """May the subject read the resource at this gateway URI (or list this template)?"""
        verdict: _Verdict = self._other_verdict(subject.name, subject.team, RESOURCE, uri)
        return verdict.decision

    def resource_visible(self, subject: Subject, uri: str) -> bool:
        return self.decide_resource(subject, uri).allowed

    def decide_prompt(self, subject: Subject, name: str, arguments: Mapping[str, Any] | None) -> Decision:
        """May the subject get this prompt with these arguments? None skips argument constraints."""
        verdict: _Verdict = self._other_verdict(subject.name, subject.team, PROMPT, name)
        return _with_arguments(verdict, arguments)

    def prompt_visible(self, subject: Subject, name: str) -> bool:
        return self.decide_prompt(subject, name, None).allowed

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

    def _judge_other(self, name: str, team: str | None, kind: str, target: str) -> _Verdict:
        """`_judge` for a resource or a prompt, from that kind's section of each policy."""
        applicable: tuple[_CompiledPolicy, ...] = self._applicable(name, team)
        section = f"{kind}s"
        for policy in applicable:
            for rule in policy.sections[kind].deny:
                if rule.matches(target):
                    reason = f"denied by policy {policy.name!r} ({section}.deny {rule.pattern!r})"
                    return _Verdict(Decision(allowed=False, reason=reason, policy=policy.name))
        for policy in applicable:
            for rule in policy.sections[kind].allow:
                if rule.matches(target):
                    checks = tuple(
                        check
                        for p in applicable
                        for key, key_checks in p.sections[kind].constraints
                        if key.matches(target)
                        for check in key_checks
                    )
                    reason = f"granted by policy {policy.name!r} ({section}.allow {rule.pattern!r})"
                    return _Verdict(Decision(allowed=True, reason=reason, policy=policy.name), checks)
        reason = _no_grant_reason(name, team, target, applicable)
        if applicable:
            reason += f" (a {kind} is granted only by a '{section}:' section)"
        return _Verdict(Decision(allowed=False, reason=reason))


def _with_arguments(verdict: _Verdict, arguments: Mapping[str, Any] | None) -> Decision:
    """The verdict's decision, refused when an argument breaks one of its checks."""
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
    return Decision(allowed=False, reason=reason, policy=violations[0].policy, violations=tuple(violations))


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
