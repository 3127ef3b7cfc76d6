"""Upstreams can trust the gateway: each request carries a short-lived JWT the gateway signed
(agent, team, end user, tool; aud = that upstream), verifiable with its published JWKS."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import KeySet
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from broker.demo.upstreams.serve import BackgroundServer
from tests.e2e.helpers import mcp_client
from tests.identity.conftest import OAuthSetup

AUDIENCE = "https://whoami.internal"


class Upstream:
    """Trusts only requests signed by the gateway whose JWKS it was given."""

    def __init__(self) -> None:
        self.jwks_url = ""
        self.seen: list[str] = []
        self.verified: list[dict[str, Any]] = []

    async def whoami(self, request: Request) -> JSONResponse:
        header = request.headers.get("authorization", "")
        self.seen.append(header)
        keys = KeySet.import_key_set(httpx.get(self.jwks_url).json())
        try:
            token = jwt.decode(header.removeprefix("Bearer "), keys, algorithms=["RS256", "ES256"])
            jwt.JWTClaimsRegistry(
                aud={"essential": True, "value": AUDIENCE}, exp={"essential": True}
            ).validate(token.claims)
        except Exception as exc:
            return JSONResponse({"refused": str(exc)}, status_code=401)
        self.verified.append(token.claims)
        return JSONResponse({"agent": token.claims["agent"], "end_user": token.claims.get("end_user")})


@pytest.fixture(scope="module")
def upstream(oauth: OAuthSetup) -> Iterator[Upstream]:
    state = Upstream()
    state.jwks_url = f"{oauth.gateway.url}/.well-known/jwks.json"
    with BackgroundServer(Starlette(routes=[Route("/whoami", state.whoami)])) as server:
        connector = {
            "name": "whoami",
            "kind": "http",
            "base_url": server.url,
            "allow_private_network": True,
            "auth": {"type": "gateway_jwt", "audience": AUDIENCE},
            "tools": [{"name": "ask", "description": "Who is calling?", "method": "GET", "path": "/whoami"}],
        }
        oauth.gateway.admin.post("/admin/connectors", json=connector).raise_for_status()
        policy = {"name": "support", "teams": ["support"], "allow": ["weather.*", "whoami.*"]}
        oauth.gateway.admin.post("/admin/policies", json={"policies": [policy]}).raise_for_status()
        yield state


async def test_the_upstream_learns_who_calls_from_the_gateways_signature(
    oauth: OAuthSetup, upstream: Upstream
) -> None:
    token = oauth.token(sub="dana", client_id="support-bot")
    async with mcp_client(oauth.gateway.mcp_url, token) as client:
        result = await client.call_tool("whoami.ask", {})
    assert not result.is_error, result
    assert json.loads(result.content[0].text) == {"agent": "support-bot", "end_user": "dana"}  # type: ignore[union-attr]
    claims = upstream.verified[-1]
    assert claims["iss"] == oauth.gateway.url and claims["aud"] == AUDIENCE
    assert (claims["agent"], claims["team"], claims["end_user"], claims["tool"]) == (
        "support-bot",
        "support",
        "dana",
        "whoami.ask",
    )
    assert claims["exp"] - claims["iat"] <= 120
    assert token not in upstream.seen[-1]  # the client's own token never goes upstream


def test_the_jwks_holds_public_keys_only(oauth: OAuthSetup) -> None:
    keys = httpx.get(f"{oauth.gateway.url}/.well-known/jwks.json").json()["keys"]
    assert keys and all("d" not in key and "p" not in key for key in keys)
