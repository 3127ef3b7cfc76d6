"""/admin/policies: apply, history, delete and explain, with references checked."""

from __future__ import annotations

import pytest

from tests.admin.conftest import error_of, post_yaml, problems_by_field, weather_connector
from tests.conftest import RunningGateway

SUPPORT = """\
policies:
  - name: support
    agents: [bot]
    allow: ["weather.*"]
    constraints:
      weather.current:
        city: {enum: [Paris, Berlin]}
"""


@pytest.fixture
def ready(gateway: RunningGateway, weather_upstream: str) -> RunningGateway:
    gateway.admin.post("/admin/agents", json={"name": "bot", "team": "support"}).raise_for_status()
    gateway.admin.post("/admin/connectors", json=weather_connector(weather_upstream)).raise_for_status()
    return gateway


def test_apply_show_and_history(ready: RunningGateway) -> None:
    admin = ready.admin
    assert admin.get("/admin/policies").json() == {"revision": 0, "policies": []}
    applied = post_yaml(admin, "/admin/policies", SUPPORT, source="support.yaml")
    assert applied.json() == {"revision": 1, "changed": ["support"], "unchanged": []}

    current = admin.get("/admin/policies").json()
    assert current["revision"] == 1
    assert current["policies"][0]["allow"] == ["weather.*"]

    again = post_yaml(admin, "/admin/policies", SUPPORT)
    assert again.json() == {"revision": 1, "changed": [], "unchanged": ["support"]}

    second = {"policies": [{"name": "extra", "teams": ["support"], "allow": [], "deny": ["weather.*"]}]}
    assert admin.post("/admin/policies", json=second).json()["revision"] == 2
    history = admin.get("/admin/policies/history").json()
    assert [(h["revision"], h["source"], h["policies"]) for h in history] == [
        (2, "admin API", ["extra", "support"]),
        (1, "support.yaml", ["support"]),
    ]
    assert [p["name"] for p in admin.get("/admin/policies/revisions/1").json()["policies"]] == ["support"]
    error_of(admin.get("/admin/policies/revisions/9"), 404)

    after_delete = admin.delete("/admin/policies/extra").json()
    assert after_delete["revision"] == 3
    assert [p["name"] for p in after_delete["policies"]] == ["support"]
    error_of(admin.delete("/admin/policies/extra"), 404)


def test_unknown_agents_and_connectors_are_refused_at_their_lines(ready: RunningGateway) -> None:
    text = 'policies:\n  - name: p\n    agents: [bot, ghost]\n    allow: ["weather.*", "nope.tool"]\n'
    found = problems_by_field(post_yaml(ready.admin, "/admin/policies", text))
    assert found["policies[0].agents[1]"]["line"] == 3
    assert "no agent named 'ghost'" in found["policies[0].agents[1]"]["message"]
    assert found["policies[0].allow[1]"]["line"] == 4
    assert "connector 'nope'" in found["policies[0].allow[1]"]["message"]
    assert ready.admin.get("/admin/policies").json()["revision"] == 0


def test_invalid_policy_documents_are_422(ready: RunningGateway) -> None:
    admin = ready.admin
    text = (
        "policies:\n  - {name: p, agents: [bot], allow: [x.y]}\n  - {name: p, agents: [bot], allow: [x.z]}\n"
    )
    assert problems_by_field(post_yaml(admin, "/admin/policies", text))["policies[1].name"]["line"] == 3
    found = problems_by_field(
        admin.post("/admin/policies", json={"policies": [{"name": "p", "agents": ["bot"]}]})
    )
    assert "policies[0].allow" in found
    assert "policies" in problems_by_field(admin.post("/admin/policies", json={"policy": []}))
    assert "policies[0].allow[0]" in problems_by_field(
        admin.post("/admin/policies", json={"policies": [{"name": "p", "agents": ["bot"], "allow": [5]}]})
    )
    duplicate_key = post_yaml(admin, "/admin/policies", "policies: []\npolicies: []\n")
    assert problems_by_field(duplicate_key)["policies"]["line"] == 2


def test_explain_says_why(ready: RunningGateway) -> None:
    admin = ready.admin
    post_yaml(admin, "/admin/policies", SUPPORT)
    allowed = admin.post("/admin/policies/explain", json={"agent": "bot", "tool": "weather.current"}).json()
    assert allowed == {
        "kind": "tool",
        "allowed": True,
        "reason": "granted by policy 'support' (allow 'weather.*')",
        "policy": "support",
        "revision": 1,
        "tool_exists": True,
        "visible": True,
        "agent_enabled": True,
        "violations": [],
    }
    body = {"agent": "bot", "tool": "weather.current", "arguments": {"city": "Rome"}}
    constrained = admin.post("/admin/policies/explain", json=body).json()
    assert constrained["allowed"] is False and constrained["visible"] is True
    assert constrained["violations"][0]["argument"] == "city"

    missing = admin.post("/admin/policies/explain", json={"agent": "bot", "tool": "weather.radar"}).json()
    assert (missing["allowed"], missing["tool_exists"], missing["visible"]) == (True, False, False)

    admin.post("/admin/agents", json={"name": "other"})
    denied = admin.post("/admin/policies/explain", json={"agent": "other", "tool": "weather.current"}).json()
    assert denied["allowed"] is False and "no policy names this agent" in denied["reason"]

    error_of(admin.post("/admin/policies/explain", json={"agent": "ghost", "tool": "weather.current"}), 404)
    assert "body.arguments" in problems_by_field(
        admin.post("/admin/policies/explain", json={"agent": "bot", "tool": "x.y", "arguments": [1]})
    )
