"""The pure decision for model calls: may this subject use this model?

1. The policies that apply are those naming the agent or its team (as for tools).
2. A `models.deny` pattern of any applicable policy matching any of the call's names refuses it.
3. Otherwise a `models.allow` pattern matching any of the names grants it. Default deny.

A call has one or more names: the name the client asked for and, when that is a bare model
name, its qualified `provider/model` form, so a policy can speak of either. Decisions are
cached per subject and names; a `ModelGrants` belongs to one immutable `PolicySet`.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass

from policies.decision import PolicySet
from policies.model import Decision, Subject
from policies.patterns import Matcher, compile_pattern

_CACHE_SIZE = 65536


@dataclass(frozen=True, slots=True)
class _Rules:
    policy: str
    agents: frozenset[str]
    teams: frozenset[str]
    allow: tuple[tuple[str, Matcher], ...]
    deny: tuple[tuple[str, Matcher], ...]


class ModelGrants:
    """The model sections of a policy set, compiled once."""

    def __init__(self, policy_set: PolicySet) -> None:
        self.policy_set = policy_set
        self._rules = tuple(
            _Rules(
                policy=p.name,
                agents=frozenset(p.agents),
                teams=frozenset(p.teams),
                allow=tuple((pattern, compile_pattern(pattern)) for pattern in p.models.allow),
                deny=tuple((pattern, compile_pattern(pattern)) for pattern in p.models.deny),
            )
            for p in policy_set.policies
            if p.models is not None
        )
        self._decide = functools.lru_cache(maxsize=_CACHE_SIZE)(self._judge)

    def decide(self, subject: Subject, names: tuple[str, ...]) -> Decision:
        """Decide a call to the model known by `names` (the requested name first)."""
        result: Decision = self._decide(subject.name, subject.team, names)
        return result

    def visible(self, subject: Subject, models: Iterable[tuple[str, ...]]) -> list[str]:
        """The first name of each model the subject may use, in order."""
        return [names[0] for names in models if self.decide(subject, names).allowed]

    def _judge(self, name: str, team: str | None, names: tuple[str, ...]) -> Decision:
        applicable = [r for r in self._rules if name in r.agents or (team is not None and team in r.teams)]
        for rules in applicable:
            for pattern, matches in rules.deny:
                if any(matches(n) for n in names):
                    reason = f"model {names[0]!r} denied by policy {rules.policy!r} (deny {pattern!r})"
                    return Decision(allowed=False, reason=reason, policy=rules.policy)
        for rules in applicable:
            for pattern, matches in rules.allow:
                if any(matches(n) for n in names):
                    reason = f"model {names[0]!r} granted by policy {rules.policy!r} (allow {pattern!r})"
                    return Decision(allowed=True, reason=reason, policy=rules.policy)
        who = f"agent {name!r} ({'no team' if team is None else f'team {team!r}'})"
        if not applicable:
            reason = f"no policy grants model {names[0]!r} to {who}: no policy with a models section names it"
        else:
            considered = ", ".join(repr(r.policy) for r in applicable)
            reason = f"no policy grants model {names[0]!r} to {who}; policies with models: {considered}"
        return Decision(allowed=False, reason=reason)


def decide_model(grants: ModelGrants, subject: Subject, names: tuple[str, ...]) -> Decision:
    """Decide whether `subject` may call the model known by `names`. Pure."""
    return grants.decide(subject, names)
