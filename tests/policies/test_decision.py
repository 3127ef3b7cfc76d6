"""Tool-level decisions: who a policy applies to, globs, deny-wins, default deny, catalogs."""

from __future__ import annotations

from typing import Any

import pytest

from policies import Decision, Policy, PolicySet, Subject, decide

SUPPORT_BOT = Subject("support-bot", "support")


def policy(name: str, **fields: Any) -> Policy:
    return Policy.model_validate({"name": name, "allow": []} | fields)


def one(pattern: str, **fields: Any) -> PolicySet:
    return PolicySet([policy("p", teams=["support"], allow=[pattern], **fields)])


@pytest.mark.parametrize(
    ("pattern", "tool", "granted"),
    [
        ("crm.*", "crm.find_contact", True),
        ("crm.*", "crm.contacts.find", True),  # `*` crosses dots
        ("crm.*", "crmx.find_contact", False),
        ("crm.*", "CRM.find_contact", False),  # case-sensitive
        ("crm.*", "crm", False),
        ("*", "anything.at_all", True),
        ("*", "", True),
        ("weather.current", "weather.current", True),
        ("weather.current", "weather.current_x", False),
        ("weather.current", "Weather.current", False),
        ("crm.get_?", "crm.get_a", True),
        ("crm.get_?", "crm.get_ab", False),
        ("sql.[!q]*", "sql.execute", True),
        ("sql.[!q]*", "sql.query", False),
        ("sql.[a-f]*", "sql.execute", True),
        ("sql.[a-f]*", "sql.query", False),
        ("*.read", "files.read", True),
        ("*.read", "files.read_all", False),
    ],
)
def test_glob_matching(pattern: str, tool: str, granted: bool) -> None:
    assert one(pattern).decide(SUPPORT_BOT, tool, {}).allowed is granted


def test_grant_reason_names_policy_and_pattern() -> None:
    decision = one("crm.*").decide(SUPPORT_BOT, "crm.find_contact", {})
    assert decision == Decision(allowed=True, reason="granted by policy 'p' (allow 'crm.*')", policy="p")


def test_deny_wins_within_a_policy() -> None:
    decision = one("crm.*", deny=["crm.delete_*"]).decide(SUPPORT_BOT, "crm.delete_contact", {})
    assert not decision.allowed
    assert decision.reason == "denied by policy 'p' (deny 'crm.delete_*')"
    assert decision.policy == "p"


def test_deny_in_any_applicable_policy_wins_over_allow_in_another() -> None:
    policies = PolicySet(
        [
            policy("bot-grants", agents=["support-bot"], allow=["*"]),
            policy("team-guard", teams=["support"], deny=["crm.export_*"]),
        ]
    )
    decision = policies.decide(SUPPORT_BOT, "crm.export_all", {})
    assert not decision.allowed
    assert decision.policy == "team-guard"
    assert policies.decide(SUPPORT_BOT, "crm.find", {}).allowed


def test_deny_of_a_policy_that_does_not_apply_is_ignored() -> None:
    policies = PolicySet(
        [
            policy("grant", teams=["support"], allow=["crm.*"]),
            policy("other", teams=["sales"], deny=["crm.*"]),
        ]
    )
    assert policies.decide(SUPPORT_BOT, "crm.find", {}).allowed


def test_team_policy_applies_to_every_agent_of_the_team_only() -> None:
    policies = one("crm.*")
    assert policies.visible(Subject("another-bot", "support"), "crm.find")
    assert not policies.visible(Subject("support-bot", "sales"), "crm.find")
    assert not policies.visible(Subject("support-bot"), "crm.find")


def test_agent_policy_applies_whatever_the_team() -> None:
    policies = PolicySet([policy("bot", agents=["support-bot"], allow=["crm.*"])])
    assert policies.visible(Subject("support-bot", "sales"), "crm.find")
    assert policies.visible(Subject("support-bot"), "crm.find")
    assert not policies.visible(Subject("other-bot", "support"), "crm.find")


def test_agent_and_team_names_are_separate_namespaces() -> None:
    policies = PolicySet([policy("team", teams=["support"], allow=["crm.*"])])
    assert not policies.visible(Subject("support", "sales"), "crm.find")


def test_policy_naming_both_agents_and_teams_applies_to_either() -> None:
    policies = PolicySet([policy("both", agents=["lone-bot"], teams=["support"], allow=["crm.*"])])
    assert policies.visible(Subject("lone-bot"), "crm.find")
    assert policies.visible(SUPPORT_BOT, "crm.find")


def test_default_deny_when_no_policy_names_the_subject() -> None:
    decision = one("crm.*").decide(Subject("bot", "sales"), "crm.x", {})
    assert decision == Decision(
        allowed=False,
        reason="no policy grants 'crm.x' to agent 'bot' (team 'sales'):"
        " no policy names this agent or its team",
    )


def test_default_deny_lists_the_policies_that_were_considered() -> None:
    decision = one("crm.*").decide(SUPPORT_BOT, "weather.current", {})
    assert not decision.allowed and decision.policy is None
    assert decision.reason == (
        "no policy grants 'weather.current' to agent 'support-bot' (team 'support'); applicable policies: 'p'"
    )


def test_default_deny_for_an_agent_without_team() -> None:
    reason = one("crm.*").decide(Subject("bot"), "crm.x", {}).reason
    assert "agent 'bot' (no team)" in reason and "'crm.x'" in reason


def test_empty_set_denies_everything() -> None:
    assert not PolicySet().decide(SUPPORT_BOT, "crm.find", {}).allowed
    assert PolicySet().version == 0


def test_first_granting_policy_in_order_is_cited() -> None:
    policies = PolicySet(
        [
            policy("first", teams=["support"], allow=["crm.*"]),
            policy("second", teams=["support"], allow=["*"]),
        ]
    )
    assert policies.decide(SUPPORT_BOT, "crm.find", {}).policy == "first"
    assert policies.decide(SUPPORT_BOT, "weather.current", {}).policy == "second"


def test_version_and_policies_are_carried_through() -> None:
    policies = PolicySet([policy("a", teams=["t"], allow=["*"])], version=42)
    assert policies.version == 42
    assert [p.name for p in policies.policies] == ["a"]
    assert repr(policies) == "PolicySet(version=42, policies=['a'])"


def test_duplicate_policy_names_are_rejected() -> None:
    with pytest.raises(ValueError, match="'a'"):
        PolicySet([policy("a", teams=["t"], allow=["*"]), policy("a", teams=["u"], allow=["*"])])


def test_module_level_decide_is_the_method() -> None:
    policies = one("crm.*", deny=["crm.delete_*"])
    for tool in ("crm.find", "crm.delete_x", "weather.current"):
        assert decide(policies, SUPPORT_BOT, tool, {}) == policies.decide(SUPPORT_BOT, tool, {})


def test_visible_ignores_argument_constraints() -> None:
    policies = one("crm.*", constraints={"crm.*": {"limit": {"maximum": 50}}})
    assert policies.visible(SUPPORT_BOT, "crm.find")
    assert policies.decide(SUPPORT_BOT, "crm.find", None).allowed
    assert not policies.decide(SUPPORT_BOT, "crm.find", {"limit": 80}).allowed


def test_repeated_decisions_are_stable() -> None:
    policies = one("crm.*", constraints={"crm.*": {"limit": {"maximum": 50}}})
    first = [policies.decide(SUPPORT_BOT, "crm.find", {"limit": n}) for n in (10, 80)]
    again = [policies.decide(SUPPORT_BOT, "crm.find", {"limit": n}) for n in (10, 80)]
    assert first == again
    assert [d.allowed for d in first] == [True, False]


def test_grants_for_summarises_a_subject() -> None:
    policies = PolicySet(
        [
            policy("support", teams=["support"], allow=["crm.*", "weather.current"], deny=["crm.delete_*"]),
            policy("bot", agents=["support-bot"], allow=["crm.*", "files.read"]),
            policy("sales", teams=["sales"], allow=["*"]),
        ]
    )
    grants = policies.grants_for(SUPPORT_BOT)
    assert grants.policies == ("support", "bot")
    assert grants.allow == ("crm.*", "weather.current", "files.read")
    assert grants.deny == ("crm.delete_*",)
    assert grants.connectors == frozenset({"crm", "weather", "files"})
    assert not grants.empty
    tools = ["weather.current", "crm.delete_contact", "crm.find", "sql.query", "files.read"]
    assert grants.filter(tools) == ["weather.current", "crm.find", "files.read"]


def test_grants_connectors_is_none_when_a_pattern_spans_connectors() -> None:
    assert one("*").grants_for(SUPPORT_BOT).connectors is None
    assert one("*.read").grants_for(SUPPORT_BOT).connectors is None


def test_grants_for_a_stranger_are_empty() -> None:
    grants = one("crm.*").grants_for(Subject("stranger"))
    assert grants.empty and grants.policies == () and grants.connectors == frozenset()
    assert grants.filter(["crm.find"]) == []
