"""A local authorization server and a gateway that trusts it, with one tool connector."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from pydantic import SecretStr

from broker.demo.upstreams.serve import BackgroundServer
from tests.conftest import RunningGateway, start_gateway
from tests.identity.auth_server import AuthServer

SCOPE = "tools"
GATEWAY_CLIENT = ("tool-broker", "gateway-introspection-secret")

DOCUMENT = {
    "connectors": [
        {
            "name": "weather",
            "kind": "http",
            "base_url": "${WEATHER_URL}",
            "allow_private_network": True,
            "tools": [
                {
                    "name": "current",
                    "description": "Current weather for a city.",
                    "method": "GET",
                    "path": "/v1/current",
                    "query": ["city"],
                    "input_schema": {
                        "type": "object",
                        "properties": {"city": {"type": "string"}},
                        "required": ["city"],
                    },
                }
            ],
        }
    ],
    "agents": [{"name": "support-bot", "team": "support"}],
    "policies": [{"name": "support", "teams": ["support"], "allow": ["weather.*"]}],
}


@dataclass
class OAuthSetup:
    idp: AuthServer
    gateway: RunningGateway

    def token(self, **claims: object) -> str:
        """A well-formed access token for this gateway, as the identity provider issues them."""
        defaults: dict[str, object] = {"sub": "alice", "client_id": "support-bot", "scope": SCOPE}
        return self.idp.access_token(**{**defaults, **claims})


@pytest.fixture(scope="module")
def idp() -> Iterator[AuthServer]:
    server = AuthServer()
    with BackgroundServer(server.app()) as running:
        server.issuer = running.url
        server.register(*GATEWAY_CLIENT)
        yield server


@pytest.fixture(scope="module")
def oauth(
    idp: AuthServer, weather_upstream: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OAuthSetup]:
    database = tmp_path_factory.mktemp("oauth") / "broker.db"
    server, gateway = start_gateway(
        f"sqlite:///{database}",
        oauth_issuers=[idp.issuer],
        oauth_scopes=[SCOPE],
        oauth_client_id=GATEWAY_CLIENT[0],
        oauth_client_secret=SecretStr(GATEWAY_CLIENT[1]),
        oauth_team_claim="groups",
        oauth_provision_agents=True,
    )
    idp.audience = f"{gateway.url}/mcp"
    document = {
        **DOCUMENT,
        "connectors": [{**DOCUMENT["connectors"][0], "base_url": weather_upstream}],  # type: ignore[index]
    }
    gateway.admin.post("/admin/apply", json=document).raise_for_status()
    try:
        yield OAuthSetup(idp, gateway)
    finally:
        gateway.admin.close()
        server.stop()
