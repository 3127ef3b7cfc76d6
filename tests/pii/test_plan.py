"""The masking plan a call carries (ToolCall.masking_fingerprint / masking_per_agent)."""

from __future__ import annotations

from broker.pii import Masker, MemoryVault
from broker.pii.plan import masking_plan
from policies import Policy, PolicySet, Subject
from policies.masking import MaskingPolicy

SUPPORT = MaskingPolicy.model_validate(
    {"entities": {"EMAIL_ADDRESS": "token"}, "resolve_tokens_for": ["a.*"]}
)
HASHED = MaskingPolicy.model_validate({"entities": {"EMAIL_ADDRESS": "hash"}})


def policy_set(version: int = 1) -> PolicySet:
    return PolicySet(
        [
            Policy(name="support", teams=["support"], allow=["a.*"], masking=SUPPORT),
            Policy(name="hashing", agents=["hasher"], allow=["a.*"], masking=HASHED),
            Policy(name="plain", agents=["plain", "other"], allow=["a.*"]),
        ],
        version=version,
    )


def test_plans_follow_the_effective_masking() -> None:
    policies = policy_set()
    support = masking_plan(policies, Subject("bot", "support"))
    assert support.per_agent and support.needs_salt
    assert support.fingerprint == Masker(support.policy, b"s" * 16, MemoryVault()).fingerprint
    hashed = masking_plan(policies, Subject("hasher"))
    assert not hashed.per_agent and hashed.needs_salt
    plain, other = masking_plan(policies, Subject("plain")), masking_plan(policies, Subject("other"))
    assert not plain.per_agent and not plain.needs_salt
    assert plain.fingerprint == other.fingerprint != support.fingerprint != hashed.fingerprint


def test_plans_are_memoised_per_policy_set() -> None:
    first, second = policy_set(1), policy_set(2)
    plan = masking_plan(first, Subject("bot", "support"))
    assert masking_plan(first, Subject("bot", "support")) is plan
    again = masking_plan(second, Subject("bot", "support"))
    assert again is not plan and again.fingerprint == plan.fingerprint
