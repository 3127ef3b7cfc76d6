"""A 2025-11-25 MCP server on loopback that runs tools as tasks, for tests/e2e/test_tasks.py.

The SDK's low-level server answers initialize and tools/list; a server middleware answers the
task protocol at the JSON-RPC level (the SDK has no tasks at 2025-11-25), as the spec says:
`tools/call` with `task` gets a `CreateTaskResult`, `tasks/get|result|cancel|list` work on the
tasks. `report` (taskSupport optional) waits until `Upstream.release` is set, then answers
with an e-mail address in its text; `quick` has no `execution`. Modern (2026-07-28) requests
are refused, so clients fall back to the 2025-11-25 handshake, as with real task servers today.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import mcp_types as types
from mcp.server import Server, ServerRequestContext
from mcp.server.context import CallNext, HandlerResult
from mcp.shared.exceptions import MCPError
from starlette.types import ASGIApp, Receive, Scope, Send

OBJECT = {"type": "object", "properties": {"topic": {"type": "string"}}}
EMAIL = "jane.roe@example.com"


@dataclass
class Upstream:
    release: threading.Event = field(default_factory=threading.Event)
    tasks: dict[str, dict[str, Any]] = field(default_factory=dict)
    results: dict[str, asyncio.Future[dict[str, Any]]] = field(default_factory=dict)
    runners: dict[str, asyncio.Task[None]] = field(default_factory=dict)
    sessions: dict[str, str | None] = field(default_factory=dict)
    """The session each task was created on."""
    cancelled: list[str] = field(default_factory=list)
    """Task ids the upstream was asked to cancel (what the test checks reached it)."""


def _stamp() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def session_of(ctx: ServerRequestContext[Any, Any]) -> str | None:
    session_id: str | None = ctx.session._connection.session_id
    return session_id


def create_app(upstream: Upstream) -> ASGIApp:
    async def list_tools(
        ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        report = types.Tool(
            name="report",
            description="Writes a long report.",
            input_schema=OBJECT,
            execution=types.ToolExecution(task_support="optional"),
        )
        quick = types.Tool(name="quick", description="Answers at once.", input_schema=OBJECT)
        return types.ListToolsResult(tools=[report, quick])

    async def call_tool(
        ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        return types.CallToolResult(content=[types.TextContent(type="text", text=f"{params.name} done")])

    async def run(task_id: str, topic: str) -> None:
        while not upstream.release.is_set():
            await asyncio.sleep(0.01)
        text = f"report on {topic} for {EMAIL}"
        upstream.tasks[task_id].update(status="completed", lastUpdatedAt=_stamp())
        upstream.results[task_id].set_result({"content": [{"type": "text", "text": text}], "isError": False})

    def known(ctx: ServerRequestContext[Any, Any], params: dict[str, Any]) -> str:
        """A task of this session (as the TypeScript SDK's task stores keep them)."""
        task_id = params.get("taskId")
        if task_id not in upstream.tasks or upstream.sessions[str(task_id)] != session_of(ctx):
            raise MCPError(types.INVALID_PARAMS, "no such task")
        return str(task_id)

    async def tasks(ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        params = dict(ctx.params or {})
        if ctx.method == "initialize":
            result = await call_next(ctx)
            assert isinstance(result, dict)
            result["capabilities"]["tasks"] = {"list": {}, "cancel": {}, "requests": {"tools": {"call": {}}}}
            return result
        if ctx.method == "tools/call" and "task" in params:
            if params.get("name") != "report":
                raise MCPError(types.METHOD_NOT_FOUND, "this tool does not run as a task")
            task_id = str(uuid.uuid4())
            now = _stamp()
            task = {"taskId": task_id, "status": "working", "statusMessage": f"writing for {EMAIL}"}
            upstream.tasks[task_id] = task | {"createdAt": now, "lastUpdatedAt": now, "ttl": 60_000}
            upstream.results[task_id] = asyncio.get_running_loop().create_future()
            upstream.sessions[task_id] = session_of(ctx)
            topic = str((params.get("arguments") or {}).get("topic", ""))
            upstream.runners[task_id] = asyncio.get_running_loop().create_task(run(task_id, topic))
            return {"task": dict(upstream.tasks[task_id])}
        if ctx.method == "tasks/get":
            return dict(upstream.tasks[known(ctx, params)])
        if ctx.method == "tasks/result":
            return await upstream.results[known(ctx, params)]
        if ctx.method == "tasks/cancel":
            task_id = known(ctx, params)
            upstream.cancelled.append(task_id)
            upstream.runners[task_id].cancel()
            upstream.tasks[task_id].update(status="cancelled", lastUpdatedAt=_stamp())
            return dict(upstream.tasks[task_id])
        if ctx.method == "tasks/list":
            mine = [key for key, session in upstream.sessions.items() if session == session_of(ctx)]
            return {"tasks": [dict(upstream.tasks[key]) for key in mine]}
        return await call_next(ctx)

    server: Server[Any] = Server("tasks-upstream", on_list_tools=list_tools, on_call_tool=call_tool)
    server.middleware.append(tasks)
    return _legacy_only(server.streamable_http_app())


def _legacy_only(app: ASGIApp) -> ASGIApp:
    """Refuse 2026-07-28 requests the way a 2025-11-25 server does (HTTP 400)."""

    async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
        version = dict(scope.get("headers") or []).get(b"mcp-protocol-version", b"")
        if scope["type"] == "http" and version == b"2026-07-28":
            body = b'{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"unsupported version"}}'
            await send(
                {
                    "type": "http.response.start",
                    "status": 400,
                    "headers": [(b"content-type", b"application/json")],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        await app(scope, receive, send)

    return guarded
