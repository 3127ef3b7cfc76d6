"""The MCP face of the gateway: the SDK's low-level Server with per-request handlers.

tools/list is built per caller from the current snapshot and marked private; tools/call
runs the tool pipeline. Our error tree maps to MCP here and nowhere else: an unknown or
hidden tool is JSON-RPC -32602, every other failure an `isError` result the model can read.
"""

from __future__ import annotations

import logging
import uuid
import warnings
from collections.abc import Callable
from typing import Any

import mcp_types as types
from mcp.server import Server
from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.context import ServerRequestContext
from mcp.shared.exceptions import MCPDeprecationWarning, MCPError
from pydantic import TypeAdapter

from broker.catalog import AgentIdentity, Snapshot
from broker.errors import ToolCallError, UnknownTool
from broker.identity.resource import caller_of
from broker.mcp.channel import LogLevels, McpClientChannel, session_id
from broker.pipeline import Next, ToolCall
from broker.telemetry.logs import current_request_id
from connectors.base import ToolOutput

log = logging.getLogger("broker.mcp")

CONTEXT_HEADER = "mcp-context"
CACHE_META_KEY = "broker/cache"
"""A tools/call `_meta` key: "bypass" asks the gateway for a fresh result instead of a cached one."""
LIST_TTL_MS = 10_000
"""How long a client may reuse its tools/list: short, since a policy change should show quickly."""
_CONTENT_BLOCK: TypeAdapter[types.ContentBlock] = TypeAdapter(types.ContentBlock)


def build_server(snapshot: Callable[[], Snapshot], pipeline: Next, *, version: str) -> Server[Any]:
    levels = LogLevels()

    async def on_list_tools(
        ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        agent = _caller()
        tools = snapshot().visible_tools(agent, _narrowing(ctx))
        return types.ListToolsResult(tools=tools, ttl_ms=LIST_TTL_MS, cache_scope="private")

    async def on_call_tool(
        ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        call = ToolCall(
            request_id=current_request_id() or str(uuid.uuid4()),
            agent=_caller(),
            tool_name=params.name,
            arguments=dict(params.arguments or {}),
            snapshot=snapshot(),
            only_connectors=_narrowing(ctx),
            cache_bypass=_bypasses_cache(params),
            channel=McpClientChannel(ctx, levels),
        )
        try:
            output = await pipeline(call)
        except UnknownTool as exc:
            raise MCPError(types.INVALID_PARAMS, exc.message) from None
        except ToolCallError as exc:
            return types.CallToolResult(
                content=[types.TextContent(type="text", text=exc.message)], is_error=True
            )
        assert isinstance(output, ToolOutput)
        return _to_result(output)

    async def on_set_logging_level(
        ctx: ServerRequestContext[Any], params: types.SetLevelRequestParams
    ) -> types.EmptyResult:
        """A 2025 session's level for the upstreams' log messages relayed during its calls."""
        _caller()
        levels.set(session_id(ctx), params.level)
        return types.EmptyResult()

    with warnings.catch_warnings():  # logging/setLevel is deprecated at 2026-07-28; 2025 clients use it
        warnings.simplefilter("ignore", MCPDeprecationWarning)
        return Server(
            "tool-broker",
            version=version,
            instructions="A permission-checked catalog of tools. You see only the tools your policy grants.",
            on_list_tools=on_list_tools,
            on_call_tool=on_call_tool,
            on_set_logging_level=on_set_logging_level,
        )


def _caller() -> AgentIdentity:
    token = get_access_token()
    if token is None:  # the transport's auth middleware refuses these before we run
        raise MCPError(types.INVALID_REQUEST, "authentication required")
    return caller_of(token)


def _narrowing(ctx: ServerRequestContext[Any]) -> frozenset[str] | None:
    """Connector names from the MCP-Context header: a caller may narrow its view, never widen it."""
    request = ctx.request
    headers = getattr(request, "headers", None)
    if headers is None:
        return None
    raw = headers.get(CONTEXT_HEADER)
    if raw is None:
        return None
    return frozenset(part.strip() for part in raw.split(",") if part.strip())


def _bypasses_cache(params: types.CallToolRequestParams) -> bool:
    """`_meta` {"broker/cache": "bypass"}: the caller asks for a fresh result (its policy may refuse)."""
    meta: dict[str, Any] = dict(params.meta or {})
    return meta.get(CACHE_META_KEY) == "bypass"


def _error_result(message: str) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(type="text", text=message)], is_error=True)


def _to_result(output: ToolOutput) -> types.CallToolResult:
    content = [_content_block(block) for block in output.content]
    return types.CallToolResult(
        content=content,
        structured_content=dict(output.structured) if output.structured is not None else None,
        is_error=output.is_error,
    )


def _content_block(block: Any) -> types.ContentBlock:
    if block.get("type") == "text":  # the common case, without the union's validation cost
        return types.TextContent(type="text", text=str(block.get("text", "")))
    return _CONTENT_BLOCK.validate_python(block)
