"""A real upstream MCP server for the tests: the SDK's low-level `Server` over a mutable catalog.

Tests change `catalog.tools` directly (a rug pull, a new tool, a removed one) and ask the
server to announce it (`notify`) the way each protocol era does: a `subscriptions/listen`
event at 2026-07-28, `notifications/tools/list_changed` on the session's GET stream at
2025-11-25. `legacy_only` puts a 2025-era front on it: `server/discover` is answered with
"method not found", so clients fall back to the initialize handshake.
"""

from __future__ import annotations

import asyncio
import base64
import json
from dataclasses import dataclass, field
from typing import Any

import httpx
import mcp_types as types
from mcp.server import Server
from mcp.server.context import ServerRequestContext
from mcp.server.session import ServerSession
from mcp.server.subscriptions import InMemorySubscriptionBus, ListenHandler, ToolsListChanged
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

PAGE_SIZE = 2
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n-not-really-an-image").decode()

OUTPUT_SCHEMA = {
    "type": "object",
    "properties": {"text": {"type": "string"}, "length": {"type": "integer"}},
    "required": ["text", "length"],
}


def base_tools() -> dict[str, types.Tool]:
    text_input = {
        "type": "object",
        "properties": {"text": {"type": "string", "description": "What to echo."}},
        "required": ["text"],
    }
    return {
        tool.name: tool
        for tool in [
            types.Tool(
                name="echo",
                title="Echo",
                description="Echo the text back, with its length.",
                input_schema=text_input,
                output_schema=OUTPUT_SCHEMA,
                annotations=types.ToolAnnotations(
                    title="Echo", read_only_hint=True, idempotent_hint=True, open_world_hint=False
                ),
            ),
            types.Tool(
                name="mixed",
                description="Answer with text, an image, an embedded resource and a resource link.",
                input_schema={"type": "object", "properties": {}},
            ),
            types.Tool(
                name="fail",
                description="Always reports a tool error.",
                input_schema={"type": "object", "properties": {}},
                annotations=types.ToolAnnotations(destructive_hint=False),
            ),
            types.Tool(
                name="slow",
                description="Answer after a pause.",
                input_schema={"type": "object", "properties": {"seconds": {"type": "number"}}},
            ),
            types.Tool(
                name="big",
                description="Answer with a text of the given size.",
                input_schema={"type": "object", "properties": {"size": {"type": "integer"}}},
            ),
        ]
    }


@dataclass
class Catalog:
    """The upstream's state, shared between the test and the server thread."""

    tools: dict[str, types.Tool] = field(default_factory=base_tools)
    calls: list[str] = field(default_factory=list)
    bus: InMemorySubscriptionBus = field(default_factory=InMemorySubscriptionBus)
    sessions: list[ServerSession] = field(default_factory=list)
    eras: set[str] = field(default_factory=set)
    client_headers: list[str] = field(default_factory=list)
    listings: int = 0
    """tools/list requests answered (every page counts)."""

    def describe(self, name: str, description: str) -> None:
        """Change a tool's description: a rug pull."""
        self.tools[name] = self.tools[name].model_copy(update={"description": description})


def create_server(catalog: Catalog) -> Server[Any]:
    async def list_tools(
        ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        catalog.eras.add(ctx.protocol_version)
        catalog.listings += 1
        if isinstance(ctx.request, Request) and "x-client" in ctx.request.headers:
            catalog.client_headers.append(ctx.request.headers["x-client"])
        if ctx.protocol_version not in MODERN_PROTOCOL_VERSIONS and ctx.session not in catalog.sessions:
            catalog.sessions.append(ctx.session)
        tools = list(catalog.tools.values())
        start = int(params.cursor) if params is not None and params.cursor else 0
        end = start + PAGE_SIZE
        return types.ListToolsResult(
            tools=tools[start:end], next_cursor=str(end) if end < len(tools) else None
        )

    async def call_tool(
        ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        catalog.calls.append(params.name)
        arguments = params.arguments or {}
        if params.name == "echo":
            text = str(arguments.get("text", ""))
            return types.CallToolResult(
                content=[types.TextContent(type="text", text=text)],
                structured_content={"text": text, "length": len(text)},
            )
        if params.name == "mixed":
            return types.CallToolResult(content=MIXED_CONTENT)
        if params.name == "fail":
            return types.CallToolResult(
                content=[types.TextContent(type="text", text="it broke")], is_error=True
            )
        if params.name == "slow":
            await asyncio.sleep(float(arguments.get("seconds", 5)))
            return types.CallToolResult(content=[types.TextContent(type="text", text="done")])
        if params.name == "whoami":  # a careless upstream: it answers with its caller's credentials
            header = ctx.request.headers.get("authorization", "") if isinstance(ctx.request, Request) else ""
            return types.CallToolResult(
                content=[types.TextContent(type="text", text=f"you sent {header}")],
                structured_content={"authorization": header},
            )
        if params.name == "big":
            text = "x" * int(arguments.get("size", 0))
            return types.CallToolResult(content=[types.TextContent(type="text", text=text)])
        return types.CallToolResult(content=[types.TextContent(type="text", text=params.name)])

    return Server(
        "test-upstream",
        on_list_tools=list_tools,
        on_call_tool=call_tool,
        on_subscriptions_listen=ListenHandler(catalog.bus),
    )


MIXED_CONTENT: list[types.ContentBlock] = [
    types.TextContent(
        type="text", text="hello", annotations=types.Annotations(audience=["user"], priority=0.5)
    ),
    types.ImageContent(type="image", data=PNG, mime_type="image/png"),
    types.EmbeddedResource(
        type="resource",
        resource=types.TextResourceContents(uri="file:///notes.txt", mime_type="text/plain", text="notes"),
    ),
    types.ResourceLink(
        type="resource_link", uri="file:///big.bin", name="big.bin", mime_type="application/octet-stream"
    ),
]


def create_app(catalog: Catalog, *, legacy_only: bool = False) -> ASGIApp:
    """The server over Streamable HTTP at /mcp, plus POST /control/notify to announce changes."""

    async def notify(request: Request) -> JSONResponse:
        await catalog.bus.publish(ToolsListChanged())
        for session in list(catalog.sessions):
            try:
                await session.send_tool_list_changed()
            except Exception:  # a closed session
                catalog.sessions.remove(session)
        return JSONResponse({"notified": True})

    app = create_server(catalog).streamable_http_app(
        custom_starlette_routes=[Route("/control/notify", notify, methods=["POST"])]
    )
    return _LegacyOnly(app) if legacy_only else app


def notify(base_url: str) -> None:
    """Have the upstream announce that its tool list changed."""
    httpx.post(f"{base_url}/control/notify", timeout=5).raise_for_status()


class _LegacyOnly:
    """Answer `server/discover` as a 2025-era server does: method not found."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        messages: list[Message] = []
        body = b""
        while True:
            message = await receive()
            messages.append(message)
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        try:
            request = json.loads(body)
        except ValueError:
            request = None
        if isinstance(request, dict) and request.get("method") == "server/discover":
            error = {"code": types.METHOD_NOT_FOUND, "message": "Method not found"}
            reply = json.dumps({"jsonrpc": "2.0", "id": request.get("id"), "error": error}).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 400,
                    "headers": [(b"content-type", b"application/json")],
                }
            )
            await send({"type": "http.response.body", "body": reply})
            return

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)
