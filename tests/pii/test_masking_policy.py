"""The masking section of a policy: validation, merging several policies, fingerprints."""

from __future__ import annotations

import pytest
import yaml
from pydantic import ValidationError

from policies import Policy, PolicyDocument, Subject
from policies.masking import (
    DEFAULT_MASKING,
    FieldRule,
    MaskingPolicy,
    OperatorSpec,
    effective_masking,
    masking_fingerprint,
    masking_for,
    parse_path,
)

EXAMPLE = """
policies:
  - name: support
    teams: [support]
    allow: ["crm.*", "mail.send"]
    masking:
      default_operator: replace
      entities:
        EMAIL_ADDRESS: token
        PHONE_NUMBER: {operator: mask, keep_last: 4, char: "#"}
        IP_ADDRESS: keep
      fields:
        - {match: name, entity: PERSON}
        - {match: "$.contacts[*].address", entity: LOCATION, operator: redact}
      resolve_tokens_for: ["mail.send", "crm.update_*"]
      token_ttl_seconds: 600
"""


def test_yaml_example_loads_with_shorthands() -> None:
    document = PolicyDocument.model_validate(yaml.safe_load(EXAMPLE))
    masking = document.policies[0].masking
    assert masking is not None
    assert masking.operator_for("EMAIL_ADDRESS") == OperatorSpec(operator="token")
    assert masking.operator_for("PHONE_NUMBER").char == "#"
    assert masking.operator_for("CREDIT_CARD").operator == "replace"
    assert masking.rule_operator(masking.fields[0]).operator == "replace"
    assert masking.rule_operator(masking.fields[1]).operator == "redact"
    assert masking.uses_tokens


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"entities": {"EMAIL_ADDRESS": "scramble"}}, "Input should be 'keep', 'mask'"),
        ({"entities": {"EMAIL_ADDRESS": {"operator": "replace", "keep_last": 2}}}, "do not apply"),
        ({"entities": {"email": "token"}}, "String should match pattern"),
        ({"fields": [{"match": "$.a[?(@.x)]"}]}, "cannot read path"),
        ({"fields": [{"match": "$"}]}, "whole result"),
        ({"resolve_tokens_for": ["not a tool"]}, "is not a tool pattern"),
        ({"token_ttl_seconds": 5}, "greater than or equal to 60"),
        ({"surprise": 1}, "Extra inputs are not permitted"),
    ],
)
def test_bad_sections_are_refused_with_a_reason(section: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message.replace("[", r"\[").replace("?", r"\?")):
        MaskingPolicy.model_validate(section)


def test_a_policy_may_only_set_masking() -> None:
    policy = Policy.model_validate({"name": "mask-all", "teams": ["t"], "allow": [], "masking": {}})
    assert policy.masking == DEFAULT_MASKING
    with pytest.raises(ValidationError, match="or set masking"):
        Policy.model_validate({"name": "nothing", "teams": ["t"], "allow": []})


def test_paths_parse_into_steps() -> None:
    assert parse_path("$.contacts[*].address") == (("child", "contacts"), ("any", None), ("child", "address"))
    assert parse_path("$..email") == (("deep", "email"),)
    assert parse_path("$['a b'][0].*") == (("child", "a b"), ("index", 0), ("any", None))


def _section(**kwargs: object) -> MaskingPolicy:
    return MaskingPolicy.model_validate(kwargs)


def test_merge_strongest_operator_wins_per_entity() -> None:
    relaxed = _section(
        entities={"EMAIL_ADDRESS": "keep", "PHONE_NUMBER": {"operator": "mask", "keep_last": 4}}
    )
    strict = _section(
        default_operator="hash",
        entities={"EMAIL_ADDRESS": "token", "PHONE_NUMBER": {"operator": "mask", "keep_last": 2}},
    )
    merged = effective_masking([relaxed, None, strict])
    assert merged.operator_for("EMAIL_ADDRESS").operator == "token"
    assert merged.operator_for("PHONE_NUMBER").keep_last == 2  # reveals less
    # relaxed has no entry for cards: its default (replace) beats strict's default (hash).
    assert merged.default_operator.operator == "replace"


def test_merge_adds_up_rules_and_tools_and_takes_the_shortest_ttl() -> None:
    a = _section(
        fields=[{"match": "name", "entity": "PERSON"}],
        resolve_tokens_for=["mail.send"],
        token_ttl_seconds=900,
    )
    b = _section(
        default_operator="redact",
        fields=[{"match": "name", "entity": "PERSON"}, {"match": "$..iban"}],
        resolve_tokens_for=["crm.update_*", "mail.send"],
    )
    merged = effective_masking([a, b])
    assert merged.fields == [
        FieldRule(match="$..iban", entity="PII", operator=OperatorSpec(operator="redact")),
        FieldRule(match="name", entity="PERSON", operator=OperatorSpec(operator="redact")),
    ]
    assert merged.resolve_tokens_for == ["crm.update_*", "mail.send"]
    assert merged.token_ttl_seconds == 900


def test_no_masking_section_means_replace_everything() -> None:
    assert effective_masking([None, None]) == DEFAULT_MASKING
    assert DEFAULT_MASKING.operator_for("EMAIL_ADDRESS").operator == "replace"


def test_masking_for_a_subject_uses_only_its_policies() -> None:
    document = PolicyDocument.model_validate(
        {
            "policies": [
                {
                    "name": "a",
                    "agents": ["bot"],
                    "allow": ["crm.*"],
                    "masking": {"default_operator": "token"},
                },
                {"name": "b", "teams": ["ops"], "allow": [], "masking": {"default_operator": "redact"}},
                {"name": "c", "agents": ["other"], "allow": ["*"], "masking": {"default_operator": "keep"}},
            ]
        }
    )
    assert masking_for(document.policies, Subject("bot")).default_operator.operator == "token"
    assert masking_for(document.policies, Subject("bot", "ops")).default_operator.operator == "redact"
    assert masking_for(document.policies, Subject("nobody")) == DEFAULT_MASKING


def test_fingerprint_is_equal_exactly_when_masking_is_alike() -> None:
    one = _section(
        entities={"EMAIL_ADDRESS": "token", "SECRET": "replace"}, resolve_tokens_for=["a.b", "c.d"]
    )
    same = _section(entities={"EMAIL_ADDRESS": "token"}, resolve_tokens_for=["c.d", "a.b", "a.b"])
    other = _section(entities={"EMAIL_ADDRESS": "hash"})
    assert masking_fingerprint(one) == masking_fingerprint(same)
    assert masking_fingerprint(one) != masking_fingerprint(other)
    assert len(masking_fingerprint(DEFAULT_MASKING)) == 32
    # A rule spelled out with the operator it would get anyway is the same rule.
    implicit = _section(fields=[{"match": "name"}])
    explicit = _section(fields=[{"match": "name", "operator": "replace"}])
    assert masking_fingerprint(implicit) == masking_fingerprint(explicit)
