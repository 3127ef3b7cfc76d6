"""Which masking applies to a call: computed once per policy set and agent, before any stage needs it.

`masking_plan(policy_set, subject)` is pure and memoised on the policy set (a new policy revision
is a new set, so nothing goes stale). Authorize puts the plan on `ToolCall.masking`, so stages
outside MaskPII (the Cache) can key on it without building a masker:

- `fingerprint` is equal for two agents exactly when their results are masked alike;
- `per_agent` is True when masked output depends on the agent (reversible tokens): such
  results must never be shared between agents, whatever the fingerprints say.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

from broker.pii.engine import ENGINE_VERSION
from policies import PolicySet, Subject, masking_fingerprint, masking_for
from policies.masking import MaskingPolicy

_SALTED = frozenset({"hash", "token"})
_MEMO_LIMIT = 10_000


@dataclass(frozen=True, slots=True)
class MaskingPlan:
    """The effective masking of one agent under one policy revision."""

    policy: MaskingPolicy
    fingerprint: str
    """`<engine version>:<digest of the policy>`, the same as `Masker.fingerprint`."""
    per_agent: bool
    """Masked output differs per agent (tokens): never share results across agents."""
    needs_salt: bool
    """Some operator (keyed hash, token) needs the gateway's PII salt."""


_plans: weakref.WeakKeyDictionary[PolicySet, dict[tuple[str, str | None], MaskingPlan]] = (
    weakref.WeakKeyDictionary()
)


def masking_plan(policy_set: PolicySet, subject: Subject) -> MaskingPlan:
    """The masking plan of `subject` under `policy_set` (memoised: a dictionary lookup when warm)."""
    memo = _plans.get(policy_set)
    if memo is None:
        memo = _plans[policy_set] = {}
    key = (subject.name, subject.team)
    plan = memo.get(key)
    if plan is None:
        if len(memo) >= _MEMO_LIMIT:
            memo.clear()
        plan = memo[key] = plan_for(masking_for(policy_set.policies, subject))
    return plan


def plan_for(policy: MaskingPolicy) -> MaskingPlan:
    """The plan of one effective masking policy."""
    rules = map(policy.rule_operator, policy.fields)
    operators = [policy.default_operator, *policy.entities.values(), *rules]
    return MaskingPlan(
        policy=policy,
        fingerprint=f"{ENGINE_VERSION}:{masking_fingerprint(policy)}",
        per_agent=policy.uses_tokens,
        needs_salt=any(op.operator in _SALTED for op in operators),
    )
