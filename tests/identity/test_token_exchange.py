"""Each user's own upstream credential by token exchange (RFC 8693): the upstream sees the
signed-in user, never the client's own token and never another user's."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from joserfc import jwt
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from broker.demo.upstreams.serve import BackgroundServer
from tests.e2e.helpers import mcp_client
from tests.identity.auth_server import AuthServer
from tests.identity.conftest import GATEWAY_CLIENT, OAuthSetup


class Upstream:
    """An API in the identity provider's trust domain: it accepts that provider's tokens for itself."""

    def __init__(self, idp: AuthServer) -> None:
        self.idp = idp
        self.seen: list[str] = []

    async def me(self, request: Request) -> JSONResponse:
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        self.seen.append(token)
        claims = jwt.decode(token, self.idp.key).claims
        if claims.get("aud") != "crm-api":
            return JSONResponse({"error": "not for me"}, status_code=401)
        return JSONResponse({"user": claims["sub"], "via": claims["act"]["sub"]})


@pytest.fixture(scope="module")
def upstream(oauth: OAuthSetup) -> Iterator[Upstream]:
    state = Upstream(oauth.idp)
    secret_name = "idp-client-secret"
    oauth.gateway.admin.put(
        f"/admin/secrets/{secret_name}", json={"value": GATEWAY_CLIENT[1]}
    ).raise_for_status()
    with BackgroundServer(Starlette(routes=[Route("/me", state.me)])) as server:
        connector = {
            "name": "crm",
            "kind": "http",
            "base_url": server.url,
            "allow_private_network": True,
            "auth": {
                "type": "token_exchange",
                "token_url": f"{oauth.idp.issuer}/token",
                "client_id": GATEWAY_CLIENT[0],
                "secret": secret_name,
                "audience": "crm-api",
            },
            "tools": [
                {
                    "name": "me",
                    "description": "Who am I upstream?",
                    "method": "GET",
                    "path": "/me",
                    # cached by default: each end user's answer must stay theirs
                    "annotations": {"readOnlyHint": True, "idempotentHint": True},
                }
            ],
        }
        oauth.gateway.admin.post("/admin/connectors", json=connector).raise_for_status()
        policy = {"name": "support", "teams": ["support"], "allow": ["weather.*", "crm.*"]}
        oauth.gateway.admin.post("/admin/policies", json={"policies": [policy]}).raise_for_status()
        yield state


async def call_me(oauth: OAuthSetup, credential: str) -> tuple[bool, str]:
    async with mcp_client(oauth.gateway.mcp_url, credential) as client:
        result = await client.call_tool("crm.me", {})
    return bool(result.is_error), result.content[0].text  # type: ignore[union-attr]


async def test_each_user_reaches_the_upstream_as_themselves(oauth: OAuthSetup, upstream: Upstream) -> None:
    alice, bob = oauth.token(sub="alice"), oauth.token(sub="bob")
    before = oauth.idp.exchanges
    assert await call_me(oauth, alice) == (False, '{"user":"alice","via":"tool-broker"}')
    assert await call_me(oauth, bob) == (False, '{"user":"bob","via":"tool-broker"}')
    assert await call_me(oauth, alice) == (False, '{"user":"alice","via":"tool-broker"}')
    assert oauth.idp.exchanges - before == 2  # alice's second call: her own cached answer
    assert alice not in upstream.seen and bob not in upstream.seen  # the clients' own tokens stay here


async def test_an_agent_key_has_no_user_to_act_for(oauth: OAuthSetup, upstream: Upstream) -> None:
    key = oauth.gateway.admin.post("/admin/agents/support-bot/keys", json={"label": "no-user"}).json()["key"]
    failed, message = await call_me(oauth, key)
    assert failed and "acts for the signed-in user" in message
