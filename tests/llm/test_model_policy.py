"""The models section of policies: validation and the pure decision."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from policies import ModelGrants, Policy, PolicySet, Subject, decide_model


def policy(**overrides: Any) -> Policy:
    data: dict[str, Any] = {"name": "p", "teams": ["support"], "allow": []}
    return Policy.model_validate(data | overrides)


def grants(*policies: Policy) -> ModelGrants:
    return ModelGrants(PolicySet(policies, version=1))


def test_a_models_only_policy_is_valid_and_an_empty_one_is_not() -> None:
    assert policy(models={"allow": ["fast"]}).models is not None
    with pytest.raises(ValidationError) as caught:
        policy(models={})
    assert caught.value.errors()[0]["type"] == "policy_effect"


@pytest.mark.parametrize("pattern", ["", "gpt 4", "a\nb", "x" * 201])
def test_bad_model_patterns_point_at_the_item(pattern: str) -> None:
    with pytest.raises(ValidationError) as caught:
        policy(models={"allow": ["fast", pattern]})
    [error] = caught.value.errors()
    assert error["loc"] == ("models", "allow", 1)
    assert error["type"] == "model_pattern"


def test_policies_without_models_dump_as_before() -> None:
    assert "models" not in policy(allow=["crm.*"]).model_dump(exclude_defaults=True)


def test_default_deny_allow_and_deny_wins() -> None:
    g = grants(
        policy(name="support", models={"allow": ["fast", "openai/*"], "deny": ["*-preview"]}),
        policy(name="bot", teams=[], agents=["bot"], models={"allow": ["*"]}),
    )
    support = Subject("helper", "support")
    assert decide_model(g, support, ("fast",)).allowed
    assert decide_model(g, support, ("gpt-4o", "openai/gpt-4o")).allowed  # the qualified name matches
    denied = decide_model(g, support, ("openai/o1-preview",))
    assert not denied.allowed and denied.policy == "support" and "deny '*-preview'" in denied.reason
    assert not decide_model(g, support, ("slow",)).allowed
    stranger = decide_model(g, Subject("other", None), ("fast",))
    assert not stranger.allowed and "no policy with a models section" in stranger.reason
    assert decide_model(g, Subject("bot", None), ("anything",)).allowed


def test_visible_keeps_order_and_first_names() -> None:
    g = grants(policy(models={"allow": ["b", "m/*"]}))
    models = [("a",), ("b",), ("c", "m/c")]
    assert g.visible(Subject("x", "support"), models) == ["b", "c"]


def test_tool_policies_are_unaffected_by_models() -> None:
    ps = PolicySet([policy(allow=["crm.*"], models={"allow": ["fast"]})])
    assert ps.decide(Subject("x", "support"), "crm.get", {}).allowed
