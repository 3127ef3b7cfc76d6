"""Claims to callers: which agent, which team, which end user."""

from __future__ import annotations

import pytest

from broker.catalog import AgentIdentity, Snapshot
from broker.errors import Forbidden, InvalidToken
from broker.identity import CallerMap, Principal
from broker.identity.callers import agent_name
from broker.identity.roles import permits, role_of
from policies import PolicySet

AGENTS = {"support-bot": AgentIdentity("id-1", "support-bot", "support")}
SNAPSHOT = Snapshot(
    revision=1, policy_revision=1, policy_set=PolicySet([], version=1), keys={}, tools={}, connectors={},
    agents=AGENTS,
)  # fmt: skip


def principal(**claims: object) -> Principal:
    client = claims.get("client_id")
    return Principal(
        "https://idp", str(claims.get("sub")), str(client) if client else None, frozenset(), 0, claims
    )


async def test_the_client_is_the_agent_and_the_subject_the_end_user() -> None:
    callers = CallerMap(lambda: SNAPSHOT)
    caller = await callers.caller(principal(sub="alice", client_id="support-bot"))
    assert (caller.id, caller.name, caller.team, caller.end_user) == (
        "id-1",
        "support-bot",
        "support",
        "alice",
    )


async def test_a_client_credentials_token_has_no_end_user() -> None:
    caller = await CallerMap(lambda: SNAPSHOT).caller(principal(sub="support-bot", client_id="support-bot"))
    assert caller.end_user is None


async def test_the_team_can_come_from_a_groups_claim() -> None:
    callers = CallerMap(lambda: SNAPSHOT, team_claim="groups")
    caller = await callers.caller(principal(sub="bob", client_id="support-bot", groups=["Analytics", "x"]))
    assert caller.team == "analytics"
    caller = await callers.caller(principal(sub="bob", client_id="support-bot"))
    assert caller.team == "support"  # no claim: the agent's registered team


async def test_an_unknown_client_is_refused_unless_provisioning_is_on() -> None:
    with pytest.raises(Forbidden, match="broker agents create other-app"):
        await CallerMap(lambda: SNAPSHOT).caller(principal(sub="alice", client_id="other-app"))
    with pytest.raises(InvalidToken, match="names no client"):
        await CallerMap(lambda: SNAPSHOT).caller(principal(sub="alice"))

    created: list[str] = []
    agents = dict(AGENTS)

    async def provision(name: str, _: Principal) -> None:
        created.append(name)
        agents[name] = AgentIdentity("id-2", name, None)

    def snapshot() -> Snapshot:
        policy_set = PolicySet([], version=1)
        return Snapshot(2, 1, policy_set, keys={}, tools={}, connectors={}, agents=agents)

    caller = await CallerMap(snapshot, provision=provision).caller(
        principal(sub="alice", client_id="other-app")
    )
    assert created == ["other-app"] and caller.name == "other-app" and caller.team is None


def test_client_ids_that_are_not_agent_names_get_a_stable_slug() -> None:
    assert agent_name("support-bot") == "support-bot"
    url_name = agent_name("https://app.example.com/client.json")
    assert url_name.startswith("https-app.example.com-client.json-") and url_name == agent_name(
        "https://app.example.com/client.json"
    )
    assert agent_name("ABC") != agent_name("abc")


def test_roles_map_from_claims_and_bound_what_each_may_do() -> None:
    mapping = {"g-admins": "admin", "g-ops": "operator", "g-audit": "auditor"}
    assert role_of(principal(roles=["g-audit", "g-ops"]), "roles", mapping) == "operator"  # type: ignore[arg-type]
    assert role_of(principal(roles="g-audit other"), "roles", mapping) == "auditor"  # type: ignore[arg-type]
    assert role_of(principal(roles=["nope"]), "roles", mapping) is None  # type: ignore[arg-type]
    assert permits("auditor", "GET", "/admin/secrets")
    assert permits("auditor", "POST", "/admin/policies/explain")
    assert not permits("auditor", "POST", "/admin/policies")
    assert permits("operator", "PUT", "/admin/secrets/x") and permits("operator", "POST", "/admin/connectors")
    assert not permits("operator", "POST", "/admin/agents") and not permits(
        "operator", "POST", "/admin/apply"
    )
    assert not permits("operator", "POST", "/admin/secrets/rotate-key")
    assert not permits("operator", "POST", "/admin/connectors-evil")
    assert permits("admin", "DELETE", "/admin/agents/x")
