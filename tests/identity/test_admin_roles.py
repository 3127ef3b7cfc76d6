"""Operators sign in with OIDC: roles decide what they may do, and every change is recorded."""

from __future__ import annotations

import httpx

from tests.identity.conftest import OAuthSetup


def as_role(oauth: OAuthSetup, role: str, sub: str) -> httpx.Client:
    token = oauth.idp.access_token(
        sub=sub, email=f"{sub}@example.com", client_id="broker-cli", roles=[f"broker-{role}"]
    )
    return httpx.Client(base_url=oauth.gateway.url, headers={"Authorization": f"Bearer {token}"}, timeout=30)


def test_an_auditor_reads_but_changes_nothing(oauth: OAuthSetup) -> None:
    with as_role(oauth, "auditor", "audrey") as auditor:
        for path in ("/admin/audit", "/admin/llm/usage", "/admin/agents", "/admin/changes", "/admin/secrets"):
            assert auditor.get(path).status_code == 200, path
        explained = auditor.post(
            "/admin/policies/explain", json={"agent": "support-bot", "tool": "weather.current"}
        )
        assert explained.status_code == 200, explained.text
        for method, path, body in (
            ("POST", "/admin/agents", {"name": "sneaky"}),
            ("PUT", "/admin/secrets/api-token", {"value": "x"}),
            ("DELETE", "/admin/connectors/weather", None),
            ("POST", "/admin/cache/purge", {}),
        ):
            refused = auditor.request(method, path, json=body)
            assert refused.status_code == 403, (method, path, refused.text)
            assert refused.json()["error"]["code"] == "forbidden"
    assert oauth.gateway.admin.get("/admin/connectors/weather").status_code == 200


def test_an_operator_manages_secrets_by_reference_but_not_agents(oauth: OAuthSetup) -> None:
    value = "operator-set-secret-value-123"
    with as_role(oauth, "operator", "olga") as operator:
        stored = operator.put("/admin/secrets/crm-token", json={"value": value})
        assert stored.status_code in (200, 201), stored.text
        listed = operator.get("/admin/secrets")
        assert "crm-token" in listed.text and value not in listed.text
        assert operator.post("/admin/agents", json={"name": "olgas-bot"}).status_code == 403
        assert operator.post("/admin/agents/support-bot/keys", json={}).status_code == 403
    changes = oauth.gateway.admin.get("/admin/changes", params={"path": "/admin/secrets/crm-token"}).json()
    assert changes[0]["actor"] == "olga@example.com (olga)" and changes[0]["role"] == "operator"
    assert value not in str(changes)


def test_every_admin_change_is_recorded_with_before_and_after(oauth: OAuthSetup) -> None:
    admin = oauth.gateway.admin
    admin.post("/admin/agents", json={"name": "audited-bot", "team": "support"}).raise_for_status()
    admin.patch("/admin/agents/audited-bot", json={"team": "analytics"}).raise_for_status()
    with as_role(oauth, "admin", "adam") as signed_in:
        assert signed_in.delete("/admin/agents/audited-bot").status_code == 204
    changes = admin.get("/admin/changes", params={"path": "/admin/agents/audited-bot"}).json()
    deleted, patched = changes[0], changes[1]
    created = admin.get("/admin/changes", params={"path": "/admin/agents"}).json()
    created = next(c for c in created if c["method"] == "POST" and c["path"] == "/admin/agents")
    assert created["before"] is None and created["after"]["team"] == "support"
    assert created["actor"] == "admin-token"
    assert (patched["method"], patched["before"]["team"], patched["after"]["team"]) == (
        "PATCH",
        "support",
        "analytics",
    )
    assert (deleted["method"], deleted["actor"], deleted["role"]) == (
        "DELETE",
        "adam@example.com (adam)",
        "admin",
    )
    assert deleted["before"]["name"] == "audited-bot" and deleted["after"] is None


def test_a_signed_in_user_without_a_role_is_refused(oauth: OAuthSetup) -> None:
    token = oauth.idp.access_token(sub="eve", client_id="broker-cli", roles=["something-else"])
    response = httpx.get(f"{oauth.gateway.url}/admin/agents", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403 and "grants no gateway role" in response.json()["error"]["message"]
