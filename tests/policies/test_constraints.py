"""Argument constraints: each kind passing and failing, with reasons naming argument, value and limit."""

from __future__ import annotations

from typing import Any

import pytest

from policies import Decision, Policy, PolicySet, Subject

BOT = Subject("bot", "support")


def constrained(constraint: dict[str, Any], argument: str = "arg", key: str = "crm.*") -> PolicySet:
    policy = Policy.model_validate(
        {
            "name": "support",
            "teams": ["support"],
            "allow": ["crm.*"],
            "constraints": {key: {argument: constraint}},
        }
    )
    return PolicySet([policy])


def call(policies: PolicySet, arguments: dict[str, Any] | None, tool: str = "crm.find") -> Decision:
    return policies.decide(BOT, tool, arguments)


def test_the_reason_from_the_brief() -> None:
    decision = call(constrained({"maximum": 50}, "limit"), {"limit": 80})
    assert (
        decision.reason == "argument 'limit' = 80 is above the maximum 50 set by policy 'support' for 'crm.*'"
    )
    assert not decision.allowed and decision.policy == "support"
    (violation,) = decision.violations
    assert (violation.argument, violation.kind, violation.policy, violation.rule) == (
        "limit",
        "maximum",
        "support",
        "crm.*",
    )
    assert violation.reason == decision.reason


@pytest.mark.parametrize("value", [1, 49, 50, 50.0, 1.5])
def test_numbers_within_range_pass(value: float) -> None:
    assert call(constrained({"minimum": 1, "maximum": 50}, "limit"), {"limit": value}).allowed


def test_below_minimum_fails() -> None:
    decision = call(constrained({"minimum": 1, "maximum": 50}, "limit"), {"limit": 0})
    assert decision.violations[0].kind == "minimum"
    assert (
        decision.reason == "argument 'limit' = 0 is below the minimum 1 set by policy 'support' for 'crm.*'"
    )


def test_float_limits_and_values_are_shown_as_given() -> None:
    decision = call(constrained({"maximum": 0.5}, "ratio"), {"ratio": 0.75})
    assert "argument 'ratio' = 0.75 is above the maximum 0.5" in decision.reason


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (True, "true is a boolean"),
        ("80", "'80' is a string"),
        (None, "null is null"),
        ([80], "(an array) is an array"),
    ],
)
def test_non_numbers_violate_numeric_limits(value: Any, shown: str) -> None:
    decision = call(constrained({"minimum": 1, "maximum": 50}, "limit"), {"limit": value})
    assert decision.violations[0].kind == "type"
    assert decision.reason == (
        f"argument 'limit' = {shown}, not a number as required by the minimum 1 and maximum 50"
        " set by policy 'support' for 'crm.*'"
    )


@pytest.mark.parametrize("value", [False, True])
def test_booleans_are_not_numbers_even_within_range(value: bool) -> None:
    # True == 1 and False == 0 in Python; a boolean must still not pass a numeric limit.
    assert not call(constrained({"minimum": 0, "maximum": 1}, "flag"), {"flag": value}).allowed


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_numbers_violate_numeric_limits(value: float) -> None:
    decision = call(constrained({"maximum": 50}, "limit"), {"limit": value})
    assert decision.violations[0].kind == "type"
    assert "is not a finite number as required by the maximum 50" in decision.reason


@pytest.mark.parametrize("value", ["EU", "UK"])
def test_enum_member_passes(value: str) -> None:
    assert call(constrained({"enum": ["EU", "UK"]}, "region"), {"region": value}).allowed


@pytest.mark.parametrize("value", ["US", "eu", "EU ", None, ["EU"], {"r": "EU"}])
def test_enum_non_member_fails(value: Any) -> None:
    decision = call(constrained({"enum": ["EU", "UK"]}, "region"), {"region": value})
    assert decision.violations[0].kind == "enum"
    assert "argument 'region' = " in decision.reason
    assert (
        "is not one of the allowed values 'EU', 'UK' set by policy 'support' for 'crm.*'" in decision.reason
    )


def test_enum_reason_shows_the_value() -> None:
    decision = call(constrained({"enum": ["EU"]}, "region"), {"region": "US"})
    assert decision.reason == (
        "argument 'region' = 'US' is not one of the allowed values 'EU' set by policy 'support' for 'crm.*'"
    )


@pytest.mark.parametrize(
    ("enum", "value", "allowed"),
    [
        ([1, 2], True, False),
        ([True], 1, False),
        ([False], 0, False),
        ([0], False, False),
        ([1], 1.0, True),  # JSON has one number type
        ([1.0], 1, True),
        ([True], True, True),
        (["1"], 1, False),
        ([None, "EU"], None, True),
    ],
)
def test_enum_compares_like_json(enum: list[Any], value: Any, allowed: bool) -> None:
    assert call(constrained({"enum": enum}, "x"), {"x": value}).allowed is allowed


def test_enum_shows_json_literals() -> None:
    decision = call(constrained({"enum": [True, None, 3]}, "x"), {"x": False})
    assert "argument 'x' = false is not one of the allowed values true, null, 3" in decision.reason


@pytest.mark.parametrize("value", ["TCK-000001", "TCK-123456"])
def test_pattern_match_passes(value: str) -> None:
    assert call(constrained({"pattern": "TCK-[0-9]{6}"}, "ticket_id"), {"ticket_id": value}).allowed


@pytest.mark.parametrize("value", ["TCK-12345", "TCK-1234567", "xTCK-123456", "TCK-123456\n", "tck-123456"])
def test_pattern_must_match_the_whole_string(value: str) -> None:
    decision = call(constrained({"pattern": "TCK-[0-9]{6}"}, "ticket_id"), {"ticket_id": value})
    assert decision.violations[0].kind == "pattern"
    assert decision.reason == (
        f"argument 'ticket_id' = {value!r} does not match the pattern 'TCK-[0-9]{{6}}'"
        " set by policy 'support' for 'crm.*'"
    )


def test_pattern_on_a_non_string_is_a_type_violation() -> None:
    decision = call(constrained({"pattern": "[0-9]+"}, "code"), {"code": 123})
    assert decision.violations[0].kind == "type"
    assert (
        "argument 'code' = 123 is a number, not a string as required by the pattern '[0-9]+'"
        in decision.reason
    )


@pytest.mark.parametrize(
    ("value", "allowed"), [("", True), ("abcde", True), ("abcdef", False), ("ééééé", True)]
)
def test_max_length_counts_characters(value: str, allowed: bool) -> None:
    assert call(constrained({"max_length": 5}, "q"), {"q": value}).allowed is allowed


def test_max_length_reason_is_bounded() -> None:
    decision = call(constrained({"max_length": 10}, "q"), {"q": "x" * 5000})
    assert decision.violations[0].kind == "max_length"
    assert "is 5000 characters long, above the max_length 10 set by policy 'support'" in decision.reason
    assert "argument 'q' = '" + "x" * 40 + "...'" in decision.reason
    assert len(decision.reason) < 200


def test_max_length_on_a_non_string_is_a_type_violation() -> None:
    decision = call(constrained({"max_length": 10}, "q"), {"q": True})
    assert decision.reason.startswith(
        "argument 'q' = true is a boolean, not a string as required by the max_length 10"
    )


def test_string_limits_combine() -> None:
    policies = constrained({"pattern": "[a-z]+", "max_length": 3}, "q")
    assert call(policies, {"q": "abc"}).allowed
    assert call(policies, {"q": "abcd"}).violations[0].kind == "max_length"
    assert call(policies, {"q": "AB"}).violations[0].kind == "pattern"


def test_absent_arguments_are_not_checked_but_null_is() -> None:
    policies = constrained({"maximum": 50}, "limit")
    assert call(policies, {}).allowed
    assert call(policies, {"other": 1000}).allowed
    assert not call(policies, {"limit": None}).allowed


def test_none_arguments_skip_constraints_for_listing() -> None:
    assert call(constrained({"maximum": 50}, "limit"), None).allowed


def test_constraints_only_apply_to_matching_tools() -> None:
    policies = constrained({"maximum": 50}, "limit", key="crm.search")
    assert not call(policies, {"limit": 80}, tool="crm.search").allowed
    assert call(policies, {"limit": 80}, tool="crm.find").allowed


def test_denied_tools_report_the_deny_not_the_arguments() -> None:
    policy = Policy.model_validate(
        {
            "name": "support",
            "teams": ["support"],
            "allow": ["crm.*"],
            "deny": ["crm.delete_*"],
            "constraints": {"crm.*": {"limit": {"maximum": 50}}},
        }
    )
    decision = PolicySet([policy]).decide(BOT, "crm.delete_contact", {"limit": 80})
    assert decision.violations == ()
    assert decision.reason.startswith("denied by policy 'support'")


def test_constraints_of_every_applicable_policy_hold_together() -> None:
    policies = PolicySet(
        [
            Policy.model_validate(
                {
                    "name": "support",
                    "teams": ["support"],
                    "allow": ["crm.*"],
                    "constraints": {"crm.*": {"limit": {"maximum": 50}}},
                }
            ),
            # A guardrail that grants nothing still constrains what others grant.
            Policy.model_validate(
                {
                    "name": "eu-only",
                    "agents": ["bot"],
                    "allow": [],
                    "constraints": {"*": {"region": {"enum": ["EU"]}, "limit": {"maximum": 20}}},
                }
            ),
            # A policy that does not apply to the subject constrains nothing.
            Policy.model_validate(
                {
                    "name": "sales",
                    "teams": ["sales"],
                    "allow": [],
                    "constraints": {"*": {"limit": {"maximum": 1}}},
                }
            ),
        ]
    )
    assert policies.decide(BOT, "crm.find", {"limit": 20, "region": "EU"}).allowed
    decision = policies.decide(BOT, "crm.find", {"limit": 60, "region": "US"})
    assert [(v.policy, v.argument, v.kind) for v in decision.violations] == [
        ("support", "limit", "maximum"),
        ("eu-only", "region", "enum"),
        ("eu-only", "limit", "maximum"),
    ]
    assert decision.policy == "support"
    assert decision.reason == "; ".join(v.reason for v in decision.violations)
    assert policies.decide(BOT, "crm.find", {"limit": 30}).violations[0].policy == "eu-only"
