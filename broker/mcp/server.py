"""The MCP face of the gateway: the SDK's low-level Server with per-request handlers.

tools/list is built per caller from the current snapshot, paginated and marked private;
tools/call runs the pipeline as a `ToolCall`. Our error tree maps to MCP here (and, for
resources, prompts and completion, in broker/mcp/operations.py): an unknown or hidden tool
is JSON-RPC -32602, every other failure an `isError` result the model can read.
"""

from __future__ import annotations

import logging
import uuid
import warnings
from collections.abc import Callable
from typing import Any

import mcp_types as types
from mcp.server import Server
from mcp.server.context import ServerRequestContext
from mcp.shared.exceptions import MCPDeprecationWarning, MCPError
from pydantic import TypeAdapter

from broker.catalog import Snapshot
from broker.connections import NotConnected
from broker.errors import ToolCallError, UnknownTool
from broker.mcp.channel import LogLevels, McpClientChannel, session_id
from broker.mcp.connect import url_elicitation
from broker.mcp.context import LIST_TTL_MS, bypasses_cache, caller, narrowing
from broker.mcp.errordata import CorrelateErrors
from broker.mcp.input_rounds import input_required_result, resume_of, state_boundary
from broker.mcp.listing import SpliceTools, list_result
from broker.mcp.notify import ListWatchers
from broker.mcp.operations import catalog_handlers
from broker.mcp.pages import paginate
from broker.mcp.sessions import Sessions
from broker.mcp.subscriptions import Subscriptions
from broker.mcp.tasks import TaskBook, Tasks
from broker.pipeline import Next, ToolCall
from broker.telemetry.logs import current_request_id
from connectors.base import ToolOutput

log = logging.getLogger("broker.mcp")
_CONTENT_BLOCK: TypeAdapter[types.ContentBlock] = TypeAdapter(types.ContentBlock)


def build_server(
    snapshot: Callable[[], Snapshot],
    pipeline: Next,
    *,
    version: str,
    watchers: ListWatchers | None = None,
    sessions: Sessions | None = None,
    request_state_key: bytes | None = None,
) -> Server[Any]:
    """`watchers`, when given, learns the 2025 sessions to send `list_changed` to; `sessions`
    keeps 2025 sessions where every instance can serve them (broker/mcp/sessions.py)."""
    levels = sessions.levels if sessions is not None else LogLevels()
    watch = watchers.watch if watchers is not None else None

    async def on_list_tools(
        ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        current, agent, only = snapshot(), caller(), narrowing(ctx)
        if watch is not None:
            watch(ctx, current, agent, only)
        tools = current.granted_tools(agent, only)
        page, cursor = paginate(tools, params.cursor if params else None, "tools")
        return list_result(page, cursor, ctx.protocol_version, ttl_ms=LIST_TTL_MS)

    async def on_call_tool(
        ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult | types.InputRequiredResult:
        call = ToolCall(
            resume=resume_of(params),
            request_id=current_request_id() or str(uuid.uuid4()),
            agent=caller(),
            tool_name=params.name,
            arguments=dict(params.arguments or {}),
            snapshot=snapshot(),
            only_connectors=narrowing(ctx),
            cache_bypass=bypasses_cache(params.meta),
            channel=McpClientChannel(ctx, levels),
        )
        if watch is not None:
            watch(ctx, call.snapshot, call.agent, call.only_connectors)
        output = await call_tool(pipeline, call)
        if output.input_required is not None:  # the client answers first: input_rounds.py
            return input_required_result(output.input_required)
        return to_result(output)

    async def on_set_logging_level(
        ctx: ServerRequestContext[Any], params: types.SetLevelRequestParams
    ) -> types.EmptyResult:
        """A 2025 session's level for the upstreams' log messages relayed during its calls."""
        caller()
        if sessions is not None:
            await sessions.set_level(session_id(ctx), params.level)
        else:
            levels.set(session_id(ctx), params.level)
        return types.EmptyResult()

    with warnings.catch_warnings():  # logging/setLevel is deprecated at 2026-07-28; 2025 clients use it
        warnings.simplefilter("ignore", MCPDeprecationWarning)
        server: Server[Any] = Server(
            "tool-broker",
            version=version,
            instructions="A permission-checked catalog of tools, resources and prompts. You see only "
            "what your policy grants.",
            on_list_tools=on_list_tools,
            on_call_tool=on_call_tool,
            on_set_logging_level=on_set_logging_level,
            **catalog_handlers(
                snapshot, pipeline, levels, Subscriptions(sessions) if sessions is not None else None
            ),
        )
    if sessions is not None:
        server.middleware.append(sessions)  # records what initialize negotiated
    server.middleware.append(  # MCP tasks (2025-11-25), past the SDK's tables: see tasks.py
        Tasks(snapshot, lambda call: call_tool(pipeline, call), to_result, levels, TaskBook())
    )
    server.middleware.append(SpliceTools())  # tools/list pages: prebuilt definitions, see listing.py
    server.middleware.append(CorrelateErrors())  # error data names the request
    if request_state_key is not None:  # seals the state of input-required rounds, see input_rounds.py
        server.middleware.append(state_boundary(request_state_key))
    return server


async def call_tool(pipeline: Next, call: ToolCall) -> ToolOutput:
    """Run a tools/call through the pipeline. Unknown or hidden tools raise `MCPError` -32602;
    every other failure is an `isError` output the model can read (shared with broker.mcp.fastpath)."""
    client = call.channel  # MaskPII wraps the call's channel on the way
    try:
        output = await pipeline(call)
    except UnknownTool as exc:
        raise MCPError(types.INVALID_PARAMS, exc.message) from None
    except NotConnected as exc:
        elicit = url_elicitation(exc, client)
        if elicit is not None:
            raise elicit from None
        return _error_output(exc.message)
    except ToolCallError as exc:
        return _error_output(exc.message)
    except Exception as exc:
        log.error(
            "tools/call %s (%s) failed unexpectedly: %s", call.request_id, call.tool_name, type(exc).__name__
        )
        return _error_output(
            f"the gateway could not complete this call; its log has request {call.request_id}"
        )
    assert isinstance(output, ToolOutput)
    return output


def _error_output(message: str) -> ToolOutput:
    return ToolOutput(content=[{"type": "text", "text": message}], is_error=True)


def to_result(output: ToolOutput) -> types.CallToolResult:
    content = [_content_block(block) for block in output.content]
    return types.CallToolResult(
        content=content,
        structured_content=dict(output.structured) if output.structured is not None else None,
        is_error=output.is_error,
        meta=dict(output.meta) if output.meta else None,
    )


def _content_block(block: Any) -> types.ContentBlock:
    if block.get("type") == "text":  # the common case, without the union's validation cost
        return types.TextContent(type="text", text=str(block.get("text", "")))
    return _CONTENT_BLOCK.validate_python(block)
