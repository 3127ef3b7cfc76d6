"""The sampling section of a policy: validation and how several sections merge."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from policies import Policy, Subject, sampling_for


def policy(name: str, **sampling: object) -> Policy:
    return Policy.model_validate({"name": name, "agents": ["bot"], "allow": [], "sampling": sampling})


def test_a_sampling_section_alone_is_a_policy_with_an_effect() -> None:
    rule = sampling_for([policy("p", serve_with="fast")], Subject("bot"))
    assert rule is not None and rule.serve_with == "fast" and rule.max_tokens == 1024
    assert rule.prefer == "client" and rule.covers("docs.summarise")
    assert sampling_for([policy("p", serve_with="fast")], Subject("someone-else")) is None


def test_sections_merge_conservatively() -> None:
    rule = sampling_for(
        [
            policy("b", serve_with="smart", max_tokens=100, prefer="gateway", tools=["crm.*"]),
            policy("a", serve_with="fast", max_tokens=500, prefer="gateway", tools=["docs.summarise"]),
        ],
        Subject("bot"),
    )
    assert rule is not None
    assert (rule.serve_with, rule.policy, rule.max_tokens, rule.prefer) == ("fast", "a", 100, "gateway")
    assert rule.covers("crm.notes") and rule.covers("docs.summarise") and not rule.covers("docs.other")


@pytest.mark.parametrize(
    ("section", "problem"),
    [
        ({}, "serve_with"),
        ({"serve_with": "fast", "max_tokens": 0}, "max_tokens"),
        ({"serve_with": "fast", "prefer": "nobody"}, "prefer"),
        ({"serve_with": "fast", "tools": ["not a pattern"]}, "tools"),
        ({"serve_with": "fast", "model": "x"}, "model"),
    ],
)
def test_a_bad_section_names_its_field(section: dict[str, object], problem: str) -> None:
    with pytest.raises(ValidationError) as raised:
        policy("p", **section)
    assert problem in str(raised.value)
