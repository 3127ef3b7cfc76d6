"""/admin/agents and their keys, checked against /mcp where it matters."""

from __future__ import annotations

import time

import pytest

from broker import keys
from tests.admin.conftest import error_of, list_tools_raw, problems_by_field
from tests.conftest import RunningGateway


def test_create_show_list_update_and_delete_an_agent(gateway: RunningGateway) -> None:
    admin = gateway.admin
    created = admin.post(
        "/admin/agents", json={"name": "support-bot", "team": "support", "description": "Helps"}
    )
    assert created.status_code == 201, created.text
    assert created.json() | {"created_at": None} == {
        "name": "support-bot",
        "team": "support",
        "description": "Helps",
        "enabled": True,
        "created_at": None,
        "active_keys": 0,
        "keys": [],
    }
    assert [a["name"] for a in admin.get("/admin/agents").json()] == ["support-bot"]

    updated = admin.patch("/admin/agents/support-bot", json={"description": "Answers questions"}).json()
    assert (updated["team"], updated["description"]) == ("support", "Answers questions")
    assert admin.patch("/admin/agents/support-bot", json={"team": None}).json()["team"] is None
    assert admin.patch("/admin/agents/support-bot", json={"team": "sales"}).json()["team"] == "sales"

    assert admin.delete("/admin/agents/support-bot").status_code == 204
    error_of(admin.get("/admin/agents/support-bot"), 404)
    assert admin.get("/admin/agents").json() == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "Support Bot"}, "body.name"),
        ({"name": "-bot"}, "body.name"),
        ({"name": "x" * 64}, "body.name"),
        ({"name": "bot", "team": "Sales!"}, "body.team"),
        ({"name": "bot", "team": 5}, "body.team"),
        ({"name": "bot", "admin": True}, "body.admin"),
        ({}, "body.name"),
    ],
)
def test_invalid_agents_are_refused_with_the_field_named(
    gateway: RunningGateway, body: object, field: str
) -> None:
    assert field in problems_by_field(gateway.admin.post("/admin/agents", json=body))


def test_names_are_unique_and_unknown_agents_are_404(gateway: RunningGateway) -> None:
    admin = gateway.admin
    assert admin.post("/admin/agents", json={"name": "bot"}).status_code == 201
    assert "already exists" in error_of(admin.post("/admin/agents", json={"name": "bot"}), 409)["message"]
    error_of(admin.patch("/admin/agents/ghost", json={"enabled": False}), 404)
    error_of(admin.delete("/admin/agents/ghost"), 404)
    error_of(admin.post("/admin/agents/ghost/keys", json={}), 404)
    error_of(admin.get("/admin/agents/ghost/keys"), 404)
    error_of(admin.post("/admin/agents/bot/keys/nope/revoke"), 404)
    assert "body.enabled" in problems_by_field(admin.patch("/admin/agents/bot", json={"enabled": "maybe"}))
    yaml_body = admin.post("/admin/agents", content=b"name: x", headers={"Content-Type": "application/yaml"})
    error_of(yaml_body, 415)


def test_a_key_is_shown_once_and_never_listed(gateway: RunningGateway) -> None:
    admin = gateway.admin
    admin.post("/admin/agents", json={"name": "bot"})
    issued = admin.post("/admin/agents/bot/keys", json={"label": "laptop", "expires_in_days": 30})
    assert issued.status_code == 201
    body = issued.json()
    assert keys.looks_like_key(body["key"])
    assert body["prefix"] == keys.display_prefix(body["key"])
    assert (body["label"], body["status"]) == ("laptop", "active")
    assert body["expires_at"] is not None
    assert "only time" in body["warning"]

    for listing in (admin.get("/admin/agents/bot/keys"), admin.get("/admin/agents/bot")):
        assert body["key"] not in listing.text
        assert keys.hash_key(body["key"]) not in listing.text
    [listed] = admin.get("/admin/agents/bot/keys").json()
    assert set(listed) == {"id", "prefix", "label", "created_at", "expires_at", "revoked_at", "status"}
    assert admin.get("/admin/agents/bot").json()["active_keys"] == 1
    assert "body.expires_in_days" in problems_by_field(
        admin.post("/admin/agents/bot/keys", json={"expires_in_days": 0})
    )


def test_a_revoked_key_stops_authenticating_on_mcp_at_once(gateway: RunningGateway) -> None:
    key = gateway.create_agent("bot")
    assert list_tools_raw(gateway, key).status_code == 200
    [record] = gateway.admin.get("/admin/agents/bot/keys").json()
    revoked = gateway.admin.post(f"/admin/agents/bot/keys/{record['id']}/revoke")
    assert revoked.json()["status"] == "revoked"
    assert list_tools_raw(gateway, key).status_code == 401
    again = gateway.admin.post(f"/admin/agents/bot/keys/{record['prefix']}/revoke")  # by prefix, idempotent
    assert again.status_code == 200


def test_disabling_an_agent_locks_out_its_keys_until_enabled(gateway: RunningGateway) -> None:
    key = gateway.create_agent("bot")
    assert gateway.admin.patch("/admin/agents/bot", json={"enabled": False}).json()["enabled"] is False
    assert list_tools_raw(gateway, key).status_code == 401
    gateway.admin.patch("/admin/agents/bot", json={"enabled": True})
    assert list_tools_raw(gateway, key).status_code == 200


def test_rotation_replaces_the_key_and_revokes_the_old_one(gateway: RunningGateway) -> None:
    old_key = gateway.create_agent("bot")
    [record] = gateway.admin.get("/admin/agents/bot/keys").json()
    rotated = gateway.admin.post(f"/admin/agents/bot/keys/{record['id']}/rotate")
    assert rotated.status_code == 200, rotated.text
    body = rotated.json()
    assert body["key"] != old_key and body["label"] == "test"
    assert body["replaced"]["status"] == "revoked"
    assert list_tools_raw(gateway, old_key).status_code == 401
    assert list_tools_raw(gateway, body["key"]).status_code == 200
    error_of(gateway.admin.post(f"/admin/agents/bot/keys/{record['id']}/rotate"), 409)


def test_rotation_with_a_grace_period_keeps_the_old_key_briefly(gateway: RunningGateway) -> None:
    old_key = gateway.create_agent("bot")
    [record] = gateway.admin.get("/admin/agents/bot/keys").json()
    rotated = gateway.admin.post(f"/admin/agents/bot/keys/{record['id']}/rotate", json={"grace_seconds": 1})
    body = rotated.json()
    assert body["replaced"]["status"] == "active" and body["replaced"]["expires_at"] is not None
    assert list_tools_raw(gateway, old_key).status_code == 200
    assert list_tools_raw(gateway, body["key"]).status_code == 200
    time.sleep(1.2)
    assert list_tools_raw(gateway, old_key).status_code == 401
    statuses = {k["id"]: k["status"] for k in gateway.admin.get("/admin/agents/bot/keys").json()}
    assert statuses[record["id"]] == "expired"
    too_long = gateway.admin.post(f"/admin/agents/bot/keys/{body['id']}/rotate", json={"grace_seconds": -1})
    assert "body.grace_seconds" in problems_by_field(too_long)
