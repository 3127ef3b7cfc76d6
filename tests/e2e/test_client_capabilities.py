"""The gateway declares to an upstream the client capabilities it can honour for each caller.

The upstream (the SDK's low-level server on loopback) lists `confirm` only to clients that
declare elicitation, and its `capabilities` tool says what the calling client declared."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx2
import mcp_types as types
import pytest
from mcp.client.client import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.server import Server, ServerRequestContext

from broker.demo.upstreams.serve import BackgroundServer
from tests.conftest import RunningGateway

pytestmark = pytest.mark.filterwarnings("ignore::mcp.shared.exceptions.MCPDeprecationWarning")
OBJECT = {"type": "object", "properties": {}}
KNOWN = ("elicitation", "roots", "sampling")


def declared(ctx: ServerRequestContext[Any]) -> list[str]:
    capabilities = ctx.session.client_capabilities
    if capabilities is None:
        return []
    return [name for name in KNOWN if getattr(capabilities, name) is not None]


def upstream_app() -> Any:
    async def list_tools(
        ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        tools = [
            types.Tool(name="capabilities", description="What the client declared.", input_schema=OBJECT)
        ]
        if "elicitation" in declared(ctx):
            tools.append(types.Tool(name="confirm", description="Asks the user.", input_schema=OBJECT))
        return types.ListToolsResult(tools=tools)

    async def call_tool(
        ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        seen = declared(ctx)
        if params.name == "capabilities":
            text = json.dumps(seen)
        elif params.name == "confirm" and "elicitation" in seen:
            answer = await ctx.session.elicit_form(
                "Go ahead?",
                {"type": "object", "properties": {"ok": {"type": "boolean"}}},
                related_request_id=ctx.request_id,
            )
            text = answer.action
        else:
            return types.CallToolResult(
                content=[types.TextContent(type="text", text=f"no tool {params.name} for this client")],
                is_error=True,
            )
        return types.CallToolResult(content=[types.TextContent(type="text", text=text)])

    server: Server[Any] = Server("capabilities-upstream", on_list_tools=list_tools, on_call_tool=call_tool)
    return server.streamable_http_app()


@pytest.fixture
def upstream() -> Iterator[str]:
    with BackgroundServer(upstream_app()) as server:
        yield f"{server.url}/mcp"


@pytest.fixture
def keys(gateway: RunningGateway, upstream: str) -> dict[str, str]:
    connector = {
        "kind": "mcp",
        "name": "up",
        "transport": "http",
        "url": upstream,
        "allow_private_network": True,
    }
    registered = gateway.admin.post("/admin/connectors", json=connector)
    assert registered.status_code == 201, registered.text
    keys = {name: gateway.create_agent(name) for name in ("plain-bot", "served-bot")}
    policies = [
        {"name": "plain", "agents": ["plain-bot", "served-bot"], "allow": ["up.*"]},
        {"name": "served", "agents": ["served-bot"], "allow": [], "sampling": {"serve_with": "fast"}},
    ]
    applied = gateway.admin.post("/admin/policies", json={"policies": policies})
    assert applied.status_code == 200, applied.text
    return keys


async def call(
    gateway: RunningGateway, key: str, mode: str, tool: str, **options: Any
) -> types.CallToolResult:
    headers = {"Authorization": f"Bearer {key}"}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=30) as http,
        Client(
            streamable_http_client(gateway.mcp_url, http_client=http), mode=mode, cache=None, **options
        ) as client,
    ):
        names = [tool.name for tool in (await client.list_tools()).tools]
        assert "up.confirm" in names  # the catalog is listed with everything the gateway may honour
        return await client.call_tool(tool, {})


def text(result: types.CallToolResult) -> str:
    return "".join(block.text for block in result.content if isinstance(block, types.TextContent))


async def test_each_caller_is_declared_with_what_it_can_answer(
    gateway: RunningGateway, keys: dict[str, str]
) -> None:
    plain = await call(gateway, keys["plain-bot"], "auto", "up.capabilities")
    assert json.loads(text(plain)) == []  # a 2026-07-28 client with no way back, no sampling policy
    served = await call(gateway, keys["served-bot"], "auto", "up.capabilities")
    assert json.loads(text(served)) == ["sampling"]  # the gateway's LLM proxy answers for it

    hidden = await call(gateway, keys["plain-bot"], "auto", "up.confirm")
    assert hidden.is_error is True and "no tool confirm for this client" in text(hidden)

    async def on_elicit(context: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        return types.ElicitResult(action="accept", content={"ok": True})

    confirmed = await call(gateway, keys["plain-bot"], "legacy", "up.confirm", elicitation_callback=on_elicit)
    assert confirmed.is_error is False and text(confirmed) == "accept"
