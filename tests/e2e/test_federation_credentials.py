"""Upstream MCP servers that need credentials, federated through the real gateway.

The secrets are stored through the admin API; the gateway lists the upstream's tools with
the shared one at registration and sends each agent's own with its calls. The upstream (a
real SDK server behind a bearer check) notes every token it saw and echoes the one it got,
and no secret may reach an agent, the audit log or the admin API.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mcp_types as types
import pytest
from pydantic import SecretStr

from broker.demo.upstreams.serve import BackgroundServer
from broker.secrets.keys import generate_key
from tests.conftest import RunningGateway, start_gateway
from tests.connectors.mcp.secured import Doorman, secured_app
from tests.connectors.mcp.upstream import Catalog
from tests.e2e.helpers import mcp_client

SHARED = "fed-shared-t0ken/+&=4242"
ALICE = "fed-alice-0nly-t0ken-7777"
SECRETS = {"up-token": SHARED, "alice-token": ALICE}
STDIO_SERVER = Path(__file__).parents[1] / "connectors" / "mcp" / "stdio_server.py"


@dataclass
class Setup:
    gateway: RunningGateway
    doorman: Doorman
    accepted: set[str]
    url: str

    def connector(self, **extra: Any) -> dict[str, Any]:
        auth = {"type": "bearer", "secret": "up-token", "per_agent": {"alice-bot": "alice-token"}}
        return {"kind": "mcp", "name": "up", "transport": "http", "url": self.url, "auth": auth, **extra}

    def grant(self, agent: str, allow: list[str]) -> str:
        key = self.gateway.create_agent(agent)
        policy = {"name": f"{agent}-tools", "agents": [agent], "allow": allow}
        self.gateway.admin.post("/admin/policies", json={"policies": [policy]}).raise_for_status()
        return key

    def last_token(self) -> str:
        return [token for method, token in self.doorman.seen if method == "POST"][-1]


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[Setup]:
    accepted = {SHARED, ALICE}
    app, doorman = secured_app(Catalog(), accepted.__contains__)
    with BackgroundServer(app) as upstream:  # stopped after the gateway lets go of it
        server, gateway = start_gateway(
            f"sqlite:///{tmp_path / 'broker.db'}", secret_keys=SecretStr(generate_key())
        )
        try:
            for name, value in SECRETS.items():
                stored = gateway.admin.put(f"/admin/secrets/{name}", json={"value": value, "kind": "token"})
                assert stored.status_code == 201, stored.text
            yield Setup(gateway, doorman, accepted, f"{upstream.url}/mcp")
        finally:
            gateway.admin.close()
            server.stop()


async def call(setup: Setup, key: str, tool: str, arguments: dict[str, Any]) -> types.CallToolResult:
    async with mcp_client(setup.gateway.mcp_url, key) as client:
        return await client.call_tool(tool, arguments)


def leaked(text: str) -> list[str]:
    return [value for value in SECRETS.values() if value in text]


async def test_agents_call_an_authenticated_upstream_each_with_its_own_token(setup: Setup) -> None:
    admin = setup.gateway.admin
    created = admin.post("/admin/connectors", json=setup.connector(allow_private_network=True))
    assert created.status_code == 201, created.text
    assert {"up.whoami", "up.echo"} <= set(created.json()["tools"])
    assert setup.doorman.tokens() == {SHARED}  # registration lists with the shared secret
    bob, alice = setup.grant("bob-bot", ["up.*"]), setup.grant("alice-bot", ["up.*"])

    seen = []
    for key, token in ((bob, SHARED), (alice, ALICE), (bob, SHARED)):
        result = await call(setup, key, "up.whoami", {})
        assert not result.is_error, result  # the upstream echoed the token; the agent gets it blanked
        assert setup.last_token() == token
        seen.append(result.model_dump_json())
    echoed = await call(setup, alice, "up.echo", {"text": "hello"})
    assert echoed.structured_content == {"text": "hello", "length": 5}
    assert admin.get("/admin/connectors/up/diff").json()["clean"] is True  # listed with the shared one

    setup.accepted.discard(SHARED)  # the upstream stops accepting the shared token
    refused = await call(setup, bob, "up.echo", {"text": "x"})
    assert refused.is_error and "HTTP status 401" in refused.model_dump_json()
    assert SHARED in setup.doorman.refused
    seen.append(refused.model_dump_json())
    assert leaked("\n".join(seen)) == []

    audit = admin.get("/admin/audit", params={"tool": "up.echo"}).json()
    assert "upstream_error" in {record["outcome"] for record in audit}
    for path in ("/admin/audit", "/admin/connectors", "/admin/connectors/up", "/admin/secrets"):
        response = admin.get(path)
        assert response.status_code == 200 and leaked(response.text) == [], path
    unavailable = admin.get("/admin/connectors/up/diff")
    assert unavailable.status_code == 502 and "HTTP status 401" in unavailable.text
    assert leaked(unavailable.text) == []


async def test_registration_refuses_a_private_address_and_unknown_secrets(setup: Setup) -> None:
    admin = setup.gateway.admin

    private = admin.post("/admin/connectors", json=setup.connector())
    assert private.status_code == 422, private.text
    message = private.json()["error"]["message"]
    assert "refused to connect to 127.0.0.1 (127.0.0.1 is a loopback address)" in message
    assert "allow_private_network: true" in message

    unknown = setup.connector(allow_private_network=True, auth={"type": "bearer", "secret": "nope"})
    missing = admin.post("/admin/connectors", json=unknown)
    assert missing.status_code == 422 and "secret 'nope' is not in the secret store" in missing.text
    assert setup.doorman.seen == [] and admin.get("/admin/connectors").json() == []


async def test_a_stdio_server_gets_its_secret_env_and_never_shows_it(setup: Setup, tmp_path: Path) -> None:
    config = {
        "kind": "mcp",
        "name": "local",
        "transport": "stdio",
        "command": [sys.executable, str(STDIO_SERVER)],
        "secret_env": {"SECRET_TOKEN": {"secret": "up-token", "per_agent": {"alice-bot": "alice-token"}}},
        "cwd": str(tmp_path),
    }
    created = setup.gateway.admin.post("/admin/connectors", json=config)
    assert created.status_code == 201, created.text
    key = setup.grant("alice-bot", ["local.*"])

    crashed = await call(setup, key, "local.crash", {})

    text = crashed.model_dump_json()
    assert crashed.is_error and "fatal: giving up, token=***" in text, text
    audit = setup.gateway.admin.get("/admin/audit", params={"tool": "local.crash"})
    assert leaked(text) == [] and leaked(audit.text) == [] and "token=***" in audit.text
