"""The gateway's signed statement on an MCP upstream: every request carries the statement for
the tool it calls, even when one user's calls to several tools run at once (the upstream
session's Authorization header is read when a request is sent)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import httpx
import mcp_types as types
import pytest
from joserfc import jwt
from joserfc.jwk import KeySet
from mcp.server import Server
from starlette.applications import Starlette

from broker.demo.upstreams.serve import BackgroundServer
from tests.e2e.helpers import mcp_client
from tests.identity.conftest import OAuthSetup

AUDIENCE = "https://tools.internal"
TOOLS = ("north", "south", "east", "west")


class SignedOnly:
    """An upstream MCP server that answers each call with the verified statement's tool claim."""

    def __init__(self) -> None:
        self.jwks_url = ""

    def claims(self, ctx: Any) -> dict[str, Any]:
        header = ctx.request.headers.get("authorization", "")
        keys = KeySet.import_key_set(httpx.get(self.jwks_url).json())
        token = jwt.decode(header.removeprefix("Bearer "), keys, algorithms=["RS256", "ES256"])
        return dict(token.claims)

    def app(self) -> Starlette:
        tools = [types.Tool(name=name, input_schema={"type": "object"}) for name in TOOLS]

        async def list_tools(ctx: Any, params: Any) -> types.ListToolsResult:
            return types.ListToolsResult(tools=tools)

        async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
            claims = self.claims(ctx)
            await asyncio.sleep(0.05)  # calls overlap at the upstream
            text = json.dumps(
                {"called": params.name, "claim": claims.get("tool"), "user": claims.get("end_user")}
            )
            return types.CallToolResult(content=[types.TextContent(type="text", text=text)])

        server = Server("signed-only", on_list_tools=list_tools, on_call_tool=call_tool)
        return server.streamable_http_app(streamable_http_path="/mcp", stateless_http=True)


@pytest.fixture(scope="module")
def upstream(oauth: OAuthSetup) -> Iterator[SignedOnly]:
    state = SignedOnly()
    state.jwks_url = f"{oauth.gateway.url}/.well-known/jwks.json"
    with BackgroundServer(state.app()) as server:
        connector = {
            "name": "compass",
            "kind": "mcp",
            "transport": "http",
            "url": f"{server.url}/mcp",
            "allow_private_network": True,
            "auth": {"type": "gateway_jwt", "audience": AUDIENCE},
        }
        oauth.gateway.admin.post("/admin/connectors", json=connector).raise_for_status()
        policy = {"name": "support", "teams": ["support"], "allow": ["weather.*", "compass.*"]}
        oauth.gateway.admin.post("/admin/policies", json={"policies": [policy]}).raise_for_status()
        yield state


async def test_concurrent_calls_each_carry_the_statement_for_their_own_tool(
    oauth: OAuthSetup, upstream: SignedOnly
) -> None:
    token = oauth.token(sub="dana", client_id="support-bot")
    async with mcp_client(oauth.gateway.mcp_url, token) as client:
        calls = [client.call_tool(f"compass.{TOOLS[i % len(TOOLS)]}", {}) for i in range(24)]
        results = await asyncio.gather(*calls)
    answers = [json.loads(result.content[0].text) for result in results]  # type: ignore[union-attr]
    assert all(not result.is_error for result in results), results
    assert [a["claim"] for a in answers] == [f"compass.{a['called']}" for a in answers]
    assert {a["user"] for a in answers} == {"dana"}
