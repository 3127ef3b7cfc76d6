"""/admin/apply: the combined document, idempotent and all or nothing."""

from __future__ import annotations

from typing import Any

import yaml

from tests.admin.conftest import error_of, post_yaml, problems_by_field, tool_names, weather_connector
from tests.conftest import RunningGateway


def document(weather_url: str, crm_url: str) -> dict[str, Any]:
    return {
        "connectors": [
            weather_connector(weather_url),
            {
                "kind": "openapi",
                "name": "crm",
                "spec_url": f"{crm_url}/openapi.json",
                "allow_private_network": True,
            },
        ],
        "agents": [
            {"name": "support-bot", "team": "support", "description": "Answers customer questions"},
            {"name": "analyst", "team": "analytics"},
        ],
        "policies": [
            {
                "name": "support",
                "teams": ["support"],
                "allow": ["crm.*", "weather.*"],
                "deny": ["crm.create_note"],
            },
            {"name": "analytics", "agents": ["analyst"], "allow": ["crm.list_deals"]},
        ],
    }


def test_apply_creates_everything_then_changes_nothing(
    gateway: RunningGateway, weather_upstream: str, crm_upstream: str
) -> None:
    text = yaml.safe_dump(document(weather_upstream, crm_upstream))
    first = post_yaml(gateway.admin, "/admin/apply", text, source="broker.yaml")
    assert first.status_code == 200, first.text
    report = first.json()
    assert report["changed"] is True
    assert report["connectors"] == {"created": ["weather", "crm"], "updated": [], "unchanged": []}
    assert report["agents"] == {"created": ["support-bot", "analyst"], "updated": [], "unchanged": []}
    assert report["policies"] == {"revision": 1, "changed": ["support", "analytics"], "unchanged": []}

    second = post_yaml(gateway.admin, "/admin/apply", text).json()
    assert second["changed"] is False
    assert second["connectors"]["unchanged"] == ["weather", "crm"]
    assert second["agents"]["unchanged"] == ["support-bot", "analyst"]
    assert second["policies"] == {"revision": 1, "changed": [], "unchanged": ["support", "analytics"]}
    assert len(gateway.admin.get("/admin/policies/history").json()) == 1

    key = gateway.admin.post("/admin/agents/support-bot/keys", json={}).json()["key"]
    visible = tool_names(gateway, key)
    assert "weather.current" in visible and "crm.get_contact" in visible
    assert "crm.create_note" not in visible


def test_apply_updates_what_changed_and_never_touches_keys(
    gateway: RunningGateway, weather_upstream: str, crm_upstream: str
) -> None:
    original = document(weather_upstream, crm_upstream)
    gateway.admin.post("/admin/apply", json=original).raise_for_status()
    key = gateway.admin.post("/admin/agents/support-bot/keys", json={}).json()["key"]

    changed = document(weather_upstream, crm_upstream)
    changed["connectors"][0]["description"] = "Weather, now described"
    changed["agents"][0]["team"] = "sales"
    changed["policies"][1]["allow"] = ["crm.list_deals", "weather.current"]
    report = gateway.admin.post("/admin/apply", json=changed).json()
    assert report["connectors"] == {"created": [], "updated": ["weather"], "unchanged": ["crm"]}
    assert report["agents"] == {"created": [], "updated": ["support-bot"], "unchanged": ["analyst"]}
    assert report["policies"] == {"revision": 2, "changed": ["analytics"], "unchanged": ["support"]}
    assert gateway.admin.get("/admin/agents/support-bot").json()["active_keys"] == 1
    assert tool_names(gateway, key) == []  # now team sales: no policy grants it anything


def test_a_bad_reference_applies_nothing(
    gateway: RunningGateway, weather_upstream: str, crm_upstream: str
) -> None:
    bad = document(weather_upstream, crm_upstream)
    bad["policies"][1]["agents"] = ["analyst", "ghost"]
    bad["policies"][0]["allow"] = ["billing.*"]
    text = yaml.safe_dump(bad, sort_keys=False)
    found = problems_by_field(post_yaml(gateway.admin, "/admin/apply", text))
    assert set(found) == {"policies[1].agents[1]", "policies[0].allow[0]"}
    lines = text.splitlines()
    ghost = found["policies[1].agents[1]"]
    assert lines[ghost["line"] - 1].strip() == "- ghost"
    assert gateway.admin.get("/admin/connectors").json() == []
    assert gateway.admin.get("/admin/agents").json() == []


def test_a_failing_connector_applies_nothing(gateway: RunningGateway, weather_upstream: str) -> None:
    text = f"""\
agents:
  - name: bot
connectors:
  - name: weather
    kind: http
    base_url: {weather_upstream}
    allow_private_network: true
    tools: [{{name: current, description: d, path: /v1/current}}]
  - name: crm
    kind: openapi
    spec_url: http://127.0.0.1:9/openapi.json
    allow_private_network: true
"""
    found = problems_by_field(post_yaml(gateway.admin, "/admin/apply", text))
    assert found["connectors[1]"]["line"] == 9
    assert "cannot fetch" in found["connectors[1]"]["message"]
    assert gateway.admin.get("/admin/agents").json() == []


def test_invalid_documents_are_located(gateway: RunningGateway) -> None:
    admin = gateway.admin
    text = "agents:\n  - name: a\n  - name: a\nconnectors:\n  - name: c\n    kind: ftp\nextra: 1\n"
    found = problems_by_field(post_yaml(admin, "/admin/apply", text))
    assert found["connectors[0].kind"]["line"] == 6
    assert found["extra"]["line"] == 7
    assert (
        problems_by_field(post_yaml(admin, "/admin/apply", "agents:\n  - name: a\n  - name: a\n"))[
            "agents[1].name"
        ]["line"]
        == 3
    )
    error = error_of(post_yaml(admin, "/admin/apply", "agents: [\n"), 422)
    assert error["problems"][0]["line"] == 2
    assert "agents" in problems_by_field(admin.post("/admin/apply", json={"agents": {"name": "x"}}))


def test_an_empty_document_is_a_no_op(gateway: RunningGateway) -> None:
    report = post_yaml(gateway.admin, "/admin/apply", "").json()
    assert report["changed"] is False and report["policies"]["revision"] == 0
