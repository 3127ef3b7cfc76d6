"""Credentials end to end: secrets stored through the admin API, injected per agent into
upstream calls made by a real MCP client, and never seen again anywhere."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
from pydantic import SecretStr

from broker.demo.upstreams.serve import BackgroundServer
from broker.secrets.keys import generate_key
from connectors._oauth import TOKENS
from tests.conftest import RunningGateway, start_gateway
from tests.e2e.helpers import mcp_client
from tests.secrets.conftest import api_connector
from tests.secrets.upstreams import Accepted, TokenServer, create_resource_app

SHARED = "shared-s3cret/+&=value-1234"
ALICE = "alice-0nly-s3cret-5678"
CLIENT_SECRET = "oauth-client-s3cret-90ab"
SECRETS = {"api-token": SHARED, "alice-token": ALICE, "crm-client": CLIENT_SECRET}
# The upstreams run on this machine, which the outbound guard refuses unless the connector
# allows private networks.
LOOPBACK = {"allow_private_network": True}


@dataclass
class Setup:
    gateway: RunningGateway
    keys: dict[str, str]
    tokens: TokenServer


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[Setup]:
    accepted = Accepted(bearer={SHARED: "shared", ALICE: "alice"})
    tokens = TokenServer(clients={"broker": CLIENT_SECRET})
    TOKENS.clear()
    with BackgroundServer(create_resource_app(accepted)) as api, BackgroundServer(tokens.app()) as crm:
        server, gateway = start_gateway(
            f"sqlite:///{tmp_path / 'broker.db'}", secret_keys=SecretStr(generate_key())
        )
        try:
            for name, value in SECRETS.items():
                response = gateway.admin.put(f"/admin/secrets/{name}", json={"value": value, "kind": "token"})
                assert response.status_code == 201, response.text
            oauth = {
                "kind": "http",
                "name": "crm",
                "base_url": crm.url,
                **LOOPBACK,
                "auth": {
                    "type": "oauth2_client_credentials",
                    "token_url": f"{crm.url}/oauth/token",
                    "client_id": "broker",
                    "secret": "crm-client",
                },
                "tools": [{"name": "whoami", "description": "Which client we are.", "path": "/api/whoami"}],
            }
            document = {
                "connectors": [
                    api_connector(api.url, extra=LOOPBACK, per_agent={"alice-bot": "alice-token"}),
                    oauth,
                ],
                "agents": [{"name": "alice-bot"}, {"name": "bob-bot"}],
                "policies": [
                    {"name": "all", "agents": ["alice-bot", "bob-bot"], "allow": ["api.*", "crm.*"]}
                ],
            }
            assert gateway.admin.post("/admin/apply", json=document).status_code == 200
            keys = {
                name: gateway.admin.post(f"/admin/agents/{name}/keys", json={}).json()["key"]
                for name in ("alice-bot", "bob-bot")
            }
            yield Setup(gateway, keys, tokens)
        finally:
            gateway.admin.close()
            server.stop()
            TOKENS.clear()


async def call(setup: Setup, agent: str, tool: str) -> tuple[bool, str]:
    """Call a tool as an agent; returns (is_error, everything the agent received as JSON)."""
    async with mcp_client(setup.gateway.mcp_url, setup.keys[agent]) as client:
        result = await client.call_tool(tool, {})
    return bool(result.is_error), result.model_dump_json()


async def who(setup: Setup, agent: str) -> object:
    async with mcp_client(setup.gateway.mcp_url, setup.keys[agent]) as client:
        result = await client.call_tool("api.whoami", {})
    assert not result.is_error, result
    return (result.structured_content or {}).get("who")


def leaked(text: str) -> list[str]:
    """Every form of every secret value found in `text`."""
    forms = [
        form
        for value in SECRETS.values()
        for form in (
            value,
            quote(value, safe=""),
            quote_plus(value),
            base64.b64encode(f"broker:{value}".encode()).decode(),
        )
    ]
    return [form for form in forms if form in text]


async def test_each_agent_gets_its_own_credential(setup: Setup) -> None:
    assert await who(setup, "bob-bot") == "shared"
    assert await who(setup, "alice-bot") == "alice"

    listed = {s["name"]: s for s in setup.gateway.admin.get("/admin/secrets").json()}
    assert listed["api-token"]["last_used_at"] and listed["alice-token"]["last_used_at"]
    assert listed["crm-client"]["last_used_at"] is None
    assert listed["alice-token"]["used_by"] == ["api"]


async def test_oauth_client_credentials_through_the_gateway(setup: Setup) -> None:
    for agent in ("alice-bot", "bob-bot", "alice-bot"):
        is_error, text = await call(setup, agent, "crm.whoami")
        assert not is_error and "broker" in text
    assert len(setup.tokens.token_requests) == 1
    setup.tokens.revoke_all()
    assert not (await call(setup, "bob-bot", "crm.whoami"))[0]
    assert len(setup.tokens.token_requests) == 2


async def test_no_secret_is_ever_shown(setup: Setup, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    seen = []
    for agent in ("alice-bot", "bob-bot"):
        for tool in ("api.whoami", "api.crash", "api.echo", "crm.whoami"):
            is_error, text = await call(setup, agent, tool)
            assert is_error == (tool == "api.crash"), text
            seen.append(text)
    crash = seen[1]
    assert "answered 500" in crash and "crashed handling Authorization=Bearer ***" in crash
    assert '"authorization":"<SECRET>"' in seen[2]  # the echo came back, masked as a secret (MaskPII)
    assert leaked("\n".join(seen)) == []

    admin = setup.gateway.admin
    for path in ("/admin/audit", "/admin/connectors", "/admin/connectors/api", "/admin/connectors/crm"):
        response = admin.get(path)
        assert response.status_code == 200 and leaked(response.text) == [], path
    for path in ("/admin/secrets", "/admin/tools", "/admin/openapi.json"):
        assert leaked(admin.get(path).text) == [], path
    audit = admin.get("/admin/audit", params={"tool": "api.crash"}).json()
    assert {r["outcome"] for r in audit} == {"upstream_error"} and "***" in audit[0]["error"]

    logged = "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    assert "HTTP Request: GET" in logged  # upstream requests were logged, without credentials
    assert leaked(logged) == []


async def test_a_missing_secret_fails_only_the_calls_that_need_it(setup: Setup) -> None:
    admin = setup.gateway.admin
    assert admin.delete("/admin/secrets/alice-token", params={"force": "true"}).status_code == 204
    is_error, text = await call(setup, "alice-bot", "api.whoami")
    assert is_error
    assert "upstream 'api' is not configured: the secret 'alice-token' it needs is missing" in text
    assert not (await call(setup, "bob-bot", "api.whoami"))[0]
    [record] = admin.get("/admin/audit", params={"agent": "alice-bot", "tool": "api.whoami"}).json()
    assert record["outcome"] == "credentials_missing" and "alice-token" in record["error"]

    admin.put("/admin/secrets/alice-token", json={"value": ALICE}).raise_for_status()
    assert not (await call(setup, "alice-bot", "api.whoami"))[0]  # back at once, no restart


def test_the_secret_value_is_not_in_the_database_in_clear(setup: Setup) -> None:
    path = setup.gateway.database_url.removeprefix("sqlite:///")
    raw = b"".join(p.read_bytes() for p in Path(path).parent.glob(Path(path).name + "*"))
    for value in SECRETS.values():
        assert value.encode() not in raw
    assert json.dumps(SHARED).encode() not in raw
