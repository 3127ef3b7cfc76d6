"""The cache section of policies: validation and how entries that apply to an agent merge."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from policies import CacheRules, Policy, PolicyDocument, Subject


def policy(name: str = "p", **fields: Any) -> Policy:
    return Policy.model_validate({"name": name, "agents": ["a"], "allow": ["w.*"], **fields})


def test_a_setting_merges_conservatively_across_entries_and_policies() -> None:
    rules = CacheRules(
        [
            policy("broad", cache={"w.*": {"ttl_seconds": 300, "shared": True}}),
            policy("narrow", cache={"w.current": {"ttl_seconds": 30, "shared": True, "bypass": False}}),
            Policy(name="team", teams=["t"], allow=["w.*"], cache={"w.*": {"ttl_seconds": 10}}),
        ]
    )
    current = rules.rule_for(Subject("a"), "w.current")
    assert current is not None
    assert (current.ttl_seconds, current.shared, current.bypass) == (30, True, False)
    assert current.patterns == ("broad:w.*", "narrow:w.current")
    other = rules.rule_for(Subject("a"), "w.forecast")
    assert other is not None and (other.ttl_seconds, other.shared, other.bypass) == (300, True, True)
    # A team policy that does not share makes the tool per agent for its members.
    member = rules.rule_for(Subject("a", team="t"), "w.forecast")
    assert member is not None and (member.ttl_seconds, member.shared) == (10, False)
    assert rules.rule_for(Subject("b"), "w.current") is None
    assert rules.rule_for(Subject("a"), "x.y") is None


def test_zero_turns_caching_off() -> None:
    rules = CacheRules([policy(cache={"w.*": {"ttl_seconds": 60}, "w.live": {"ttl_seconds": 0}})])
    rule = rules.rule_for(Subject("a"), "w.live")
    assert rule is not None and rule.ttl_seconds == 0


def test_a_policy_with_only_a_cache_section_is_valid() -> None:
    Policy.model_validate({"name": "c", "agents": ["a"], "allow": [], "cache": {"w.*": {"ttl_seconds": 5}}})


@pytest.mark.parametrize(
    ("cache", "message"),
    [
        ({"w.*": {"ttl_seconds": -1}}, "greater than or equal to 0"),
        ({"w.*": {"ttl_seconds": 8 * 86400}}, "less than or equal to 604800"),
        ({"w.*": {"ttl_seconds": 5, "share": True}}, "Extra inputs are not permitted"),
        ({"w.*": {}}, "ttl_seconds\n  Field required"),
        ({"not a pattern": {"ttl_seconds": 5}}, "is not a tool pattern"),
    ],
)
def test_bad_settings_are_refused(cache: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        PolicyDocument.model_validate(
            {"policies": [{"name": "p", "agents": ["a"], "allow": [], "cache": cache}]}
        )
