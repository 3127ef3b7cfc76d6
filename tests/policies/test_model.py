"""Validation of policy data: every error names its field, so YAML and admin users can fix it."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from policies import ArgumentConstraint, Policy, PolicyDocument


def policy_data(**overrides: Any) -> dict[str, Any]:
    return {"name": "support", "teams": ["support"], "allow": ["crm.*"]} | overrides


def error_of(model: type[Policy | ArgumentConstraint | PolicyDocument], data: Any) -> dict[str, Any]:
    """The single validation error `data` raises."""
    with pytest.raises(ValidationError) as caught:
        model.model_validate(data)
    errors = caught.value.errors()
    assert len(errors) == 1, errors
    return dict(errors[0])


def test_minimal_policy_has_safe_defaults() -> None:
    policy = Policy.model_validate(policy_data())
    assert policy.agents == [] and policy.deny == [] and policy.constraints == {}
    assert policy.description == ""


@pytest.mark.parametrize("name", ["", "Support", "-x", "a b", "x" * 64, "sup/port"])
def test_policy_name_must_be_a_slug(name: str) -> None:
    error = error_of(Policy, policy_data(name=name))
    assert error["loc"] == ("name",)


@pytest.mark.parametrize("name", ["s", "support", "eu.data-residency_2", "x" * 63])
def test_slug_names_are_accepted(name: str) -> None:
    assert Policy.model_validate(policy_data(name=name)).name == name


@pytest.mark.parametrize("subjects", [{}, {"agents": [], "teams": []}, {"teams": []}])
def test_policy_without_subject_is_an_error_at_teams(subjects: dict[str, Any]) -> None:
    error = error_of(Policy, {"name": "support", "allow": ["crm.*"]} | subjects)
    assert error["loc"] == ("teams",)
    assert error["type"] == "policy_subject"
    assert "agents" in error["msg"] and "teams" in error["msg"]


def test_agents_alone_are_a_subject() -> None:
    data = policy_data(agents=["bot"])
    del data["teams"]
    assert Policy.model_validate(data).agents == ["bot"]


@pytest.mark.parametrize("bad", ["", " bot", "bot "])
def test_subject_names_must_be_non_empty_and_trimmed(bad: str) -> None:
    error = error_of(Policy, policy_data(agents=["ok", bad]))
    assert error["loc"] == ("agents", 1)


def test_unknown_policy_field_is_rejected() -> None:
    error = error_of(Policy, policy_data(allowed=["crm.*"]))
    assert error["loc"] == ("allowed",)
    assert error["type"] == "extra_forbidden"


def test_unknown_constraint_field_is_rejected_where_it_is() -> None:
    error = error_of(Policy, policy_data(constraints={"crm.*": {"limit": {"max": 5}}}))
    assert error["loc"] == ("constraints", "crm.*", "limit", "max")
    assert error["type"] == "extra_forbidden"


def test_allow_is_required() -> None:
    data = policy_data()
    del data["allow"]
    error = error_of(Policy, data)
    assert error["loc"] == ("allow",)
    assert error["type"] == "missing"


@pytest.mark.parametrize(
    "pattern",
    ["*", "crm.*", "weather.current", "crm.delete_*", "crm.get_?", "sql.[!q]*", "sql.[a-c]*", "*.read",
     "github.repos.list", "Crm.getContact", "my-crm.find_contact"],
)  # fmt: skip
def test_valid_tool_patterns(pattern: str) -> None:
    policy = Policy.model_validate(
        policy_data(allow=[pattern], deny=[pattern], constraints={pattern: {"a": {"maximum": 1}}})
    )
    assert policy.allow == [pattern]


@pytest.mark.parametrize(
    "pattern",
    ["", "crm", "crm*", "crm.", ".find", "crm..find", "crm.[a", "crm.[]", "crm find.x", "crm.find ", "**",
     "crm.{a,b}", "crm/find.x", "crm.find\n", "c." + "x" * 300],
)  # fmt: skip
def test_invalid_tool_patterns_point_at_the_item(pattern: str) -> None:
    error = error_of(Policy, policy_data(allow=["weather.current", pattern]))
    assert error["loc"] == ("allow", 1)
    assert error["type"] == "tool_pattern"


def test_invalid_deny_pattern_points_at_the_item() -> None:
    error = error_of(Policy, policy_data(deny=["crm*"]))
    assert error["loc"] == ("deny", 0)
    assert "'crm*' is not a tool pattern" in error["msg"]


def test_invalid_constraint_key_points_at_the_key() -> None:
    error = error_of(Policy, policy_data(constraints={"crm": {"limit": {"maximum": 5}}}))
    assert error["loc"] == ("constraints", "crm", "[key]")


def test_constraint_key_needs_at_least_one_argument() -> None:
    error = error_of(Policy, policy_data(constraints={"crm.*": {}}))
    assert error["loc"] == ("constraints", "crm.*")


def test_policy_must_have_an_effect() -> None:
    error = error_of(Policy, policy_data(allow=[]))
    assert error["type"] == "policy_effect"


def test_deny_only_and_constraint_only_policies_are_valid() -> None:
    assert Policy.model_validate(policy_data(allow=[], deny=["crm.delete_*"])).deny == ["crm.delete_*"]
    guardrail = Policy.model_validate(policy_data(allow=[], constraints={"*": {"region": {"enum": ["EU"]}}}))
    assert guardrail.constraints["*"]["region"].enum == ["EU"]


def test_bad_regex_is_reported_at_the_pattern_field() -> None:
    error = error_of(Policy, policy_data(constraints={"crm.*": {"q": {"pattern": "TCK-([0-9"}}}))
    assert error["loc"] == ("constraints", "crm.*", "q", "pattern")
    assert error["type"] == "regex"
    assert "TCK-([0-9" in error["msg"]


def test_constraint_needs_at_least_one_limit() -> None:
    error = error_of(ArgumentConstraint, {})
    assert error["type"] == "empty_constraint"
    assert "enum, minimum, maximum, pattern, max_length" in error["msg"]


def test_minimum_above_maximum_is_reported_at_maximum() -> None:
    error = error_of(ArgumentConstraint, {"minimum": 10, "maximum": 5})
    assert error["loc"] == ("maximum",)
    assert error["msg"] == "maximum 5 is below minimum 10"


def test_equal_minimum_and_maximum_are_fine() -> None:
    assert ArgumentConstraint(minimum=5, maximum=5).maximum == 5


def test_number_and_string_limits_cannot_mix() -> None:
    error = error_of(ArgumentConstraint, {"maximum": 5, "max_length": 5})
    assert error["type"] == "mixed_constraint"


@pytest.mark.parametrize("bad", [True, "5", float("nan"), float("inf"), [5]])
def test_numeric_limits_must_be_finite_numbers(bad: Any) -> None:
    error = error_of(ArgumentConstraint, {"minimum": bad, "maximum": 10})
    assert error["loc"] == ("minimum",)
    assert error["type"] == "number"


def test_numbers_keep_their_type() -> None:
    constraint = ArgumentConstraint.model_validate({"minimum": 1, "maximum": 2.5})
    assert type(constraint.minimum) is int and type(constraint.maximum) is float


@pytest.mark.parametrize("bad", [-1, True, "3", 2.0])
def test_max_length_must_be_a_non_negative_integer(bad: Any) -> None:
    error = error_of(ArgumentConstraint, {"max_length": bad})
    assert error["loc"][0] == "max_length"


def test_enum_must_not_be_empty() -> None:
    error = error_of(ArgumentConstraint, {"enum": []})
    assert error["loc"] == ("enum",)


def test_enum_values_are_scalars_that_keep_their_type() -> None:
    constraint = ArgumentConstraint.model_validate({"enum": [True, 1, 1.5, "1", None]})
    assert constraint.enum == [True, 1, 1.5, "1", None]
    assert [type(v) for v in constraint.enum] == [bool, int, float, str, type(None)]
    error = error_of(ArgumentConstraint, {"enum": ["EU", {"a": 1}]})
    assert error["loc"] == ("enum", 1)
    assert error["type"] == "scalar"


def test_models_are_frozen() -> None:
    policy = Policy.model_validate(policy_data())
    with pytest.raises(ValidationError):
        policy.name = "other"  # type: ignore[misc]


def test_document_rejects_duplicate_names() -> None:
    error = error_of(PolicyDocument, {"policies": [policy_data(), policy_data(allow=["weather.*"])]})
    assert error["loc"] == ("policies",)
    assert error["msg"] == "policy name 'support' is used twice (policies 0 and 1)"


def test_document_errors_point_into_the_list() -> None:
    error = error_of(PolicyDocument, {"policies": [policy_data(), policy_data(name="b", deny=["x"])]})
    assert error["loc"] == ("policies", 1, "deny", 0)


def test_json_schema_describes_every_field_and_forbids_extras() -> None:
    schema = PolicyDocument.model_json_schema()
    for name in ("Policy", "ArgumentConstraint"):
        definition = schema["$defs"][name]
        assert definition["additionalProperties"] is False
        assert all(field.get("description") for field in definition["properties"].values()), name
