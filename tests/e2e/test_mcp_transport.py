"""The HTTP edge of /mcp: authentication, DNS-rebinding protection, body limits."""

from __future__ import annotations

import httpx
import pytest

from broker import keys
from tests.conftest import RunningGateway
from tests.e2e.conftest import DemoCatalog
from tests.e2e.helpers import mcp_client

META = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientInfo": {"name": "raw-http-test", "version": "1"},
    "io.modelcontextprotocol/clientCapabilities": {},
}
LIST_TOOLS = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {"_meta": META}}
MODERN_HEADERS = {
    "Accept": "application/json, text/event-stream",
    "MCP-Protocol-Version": "2026-07-28",
    "Mcp-Method": "tools/list",
}


def post_mcp(gateway: RunningGateway, headers: dict[str, str], body: object = LIST_TOOLS) -> httpx.Response:
    return httpx.post(gateway.mcp_url, json=body, headers={**MODERN_HEADERS, **headers}, timeout=10)


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer", "Bearer nonsense", f"Bearer {keys.KEY_PREFIX}{'x' * 40}", "Basic dXNlcjpwYXNz"],
)
def test_missing_or_bad_keys_get_401_with_the_spec_challenge(
    shared_demo: DemoCatalog, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization is not None else {}
    response = post_mcp(shared_demo.gateway, headers)
    assert response.status_code == 401
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith("Bearer ") and 'error="invalid_token"' in challenge
    assert (
        f'resource_metadata="{shared_demo.gateway.url}/.well-known/oauth-protected-resource/mcp"' in challenge
    )
    metadata = httpx.get(f"{shared_demo.gateway.url}/.well-known/oauth-protected-resource/mcp").json()
    assert metadata["resource"] == shared_demo.gateway.mcp_url


def test_the_admin_token_is_not_an_agent_key(shared_demo: DemoCatalog) -> None:
    response = post_mcp(shared_demo.gateway, {"Authorization": f"Bearer {shared_demo.gateway.admin_token}"})
    assert response.status_code == 401


async def test_revoked_keys_and_disabled_agents_stop_working_at_once(demo: DemoCatalog) -> None:
    gateway = demo.gateway
    assert post_mcp(gateway, {"Authorization": f"Bearer {demo.support_key}"}).status_code == 200
    listed = gateway.admin.get("/admin/agents/support-bot/keys").json()
    key_ids = [k["id"] for k in (listed["keys"] if isinstance(listed, dict) else listed)]
    for key_id in key_ids:
        gateway.admin.post(f"/admin/agents/support-bot/keys/{key_id}/revoke").raise_for_status()
    assert post_mcp(gateway, {"Authorization": f"Bearer {demo.support_key}"}).status_code == 401

    assert post_mcp(gateway, {"Authorization": f"Bearer {demo.analyst_key}"}).status_code == 200
    gateway.admin.patch("/admin/agents/analyst", json={"enabled": False}).raise_for_status()
    assert post_mcp(gateway, {"Authorization": f"Bearer {demo.analyst_key}"}).status_code == 401
    with pytest.raises(Exception):  # noqa: B017 - the SDK client surfaces the 401 as its own error type
        async with mcp_client(gateway.mcp_url, demo.analyst_key) as client:
            await client.list_tools()


def test_foreign_host_and_origin_headers_are_refused(shared_demo: DemoCatalog) -> None:
    auth = {"Authorization": f"Bearer {shared_demo.support_key}"}
    assert post_mcp(shared_demo.gateway, {**auth, "Host": "attacker.example"}).status_code == 421
    assert post_mcp(shared_demo.gateway, {**auth, "Origin": "http://attacker.example"}).status_code == 403
    assert post_mcp(shared_demo.gateway, {**auth, "Origin": "http://localhost:3000"}).status_code == 200


def test_request_bodies_are_bounded(shared_demo: DemoCatalog) -> None:
    padding = "x" * (shared_demo.gateway.settings.max_request_bytes + 1)
    big = {**LIST_TOOLS, "params": {"_meta": {**META, "padding": padding}}}
    response = post_mcp(shared_demo.gateway, {"Authorization": f"Bearer {shared_demo.support_key}"}, big)
    assert response.status_code == 413
