"""MCP tasks (2025-11-25, experimental) through the gateway, under the caller's identity.

A 2025-11-25 client may call a tool whose upstream lists `execution.taskSupport` as a task
(`tools/call` with `params.task`), then poll it with `tasks/get`, fetch its result with
`tasks/result`, cancel it with `tasks/cancel` and see its tasks with `tasks/list`.

Why a server middleware, and not handlers: mcp 2.3 keeps `tasks/*` out of its 2025-11-25
method tables on purpose and validates a `tools/call` handler's result as `CallToolResult |
InputRequiredResult`, so neither a `tasks/get` handler at that version nor a `CreateTaskResult`
from `on_call_tool` gets through. A middleware that answers without `call_next` is trusted to
return its own wire result (the SDK's runner says so), and it runs inside the session: the
SDK's session manager has already checked the `Mcp-Session-Id` and that the caller is the one
that opened it (or `broker.mcp.sessions` adopted it for that caller).

Every step runs the one pipeline as a `ToolCall` of the task's tool carrying a `TaskStep`
(`connectors.base`): Authorize decides exactly as for a plain call (a policy revoked while the
task runs stops the caller from reading it), Audit records each step, the Cache stage never
keeps one, MaskPII masks `tasks/result` like any result, and the connector sends the step on
its upstream session (`connectors/mcp/tasks.py`). The upstream's task id never reaches the
client: the gateway hands out an id of its own, bound to the caller (agent and end user) in a
`TaskBook`; a task id of another caller, or one never issued, is an unknown task (-32602), so
no caller can learn another's task exists, and `tasks/list` lists the caller's own tasks only.

The book is kept in this instance's memory (a task is polled where it was created unless the
load balancer moves the session; then the task is unknown there, an honest error).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import mcp_types as types
from cachetools import TTLCache
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.shared.exceptions import MCPError
from mcp_types.methods import serialize_server_result

from broker.catalog import AgentIdentity, Snapshot
from broker.mcp.channel import LogLevels, McpClientChannel
from broker.mcp.context import bypasses_cache, caller, narrowing
from broker.mcp.pages import paginate
from broker.pipeline import ToolCall
from broker.telemetry.logs import current_request_id
from connectors.base import TaskStep, ToolOutput

TASKS_VERSION = "2025-11-25"
"""The one revision with tasks in its core (2026-07-28 moved them to an extension)."""
CAPABILITY: dict[str, Any] = {"list": {}, "cancel": {}, "requests": {"tools": {"call": {}}}}
RELATED_TASK = "io.modelcontextprotocol/related-task"
TASK_METHODS = frozenset({"tasks/get", "tasks/result", "tasks/cancel", "tasks/list"})
BOOK_SECONDS = 86_400.0
"""How long the gateway remembers a task (the upstream's `ttl` usually ends it earlier)."""


@dataclass(frozen=True, slots=True)
class BookedTask:
    owner: tuple[str, str | None]
    """The agent's id and the end user it acts for."""
    tool: str
    arguments: dict[str, Any]
    upstream_id: str
    only: frozenset[str] | None


class TaskBook:
    """Gateway task ids and whose they are (this instance's memory)."""

    def __init__(self, maxsize: int = 100_000) -> None:
        self._tasks: TTLCache[str, BookedTask] = TTLCache(maxsize=maxsize, ttl=BOOK_SECONDS)

    def add(self, task: BookedTask) -> str:
        task_id = secrets.token_urlsafe(18)
        self._tasks[task_id] = task
        return task_id

    def find(self, task_id: Any, agent: AgentIdentity) -> BookedTask:
        """The caller's task, else -32602 as if no such task existed."""
        task = self._tasks.get(task_id) if isinstance(task_id, str) else None
        if task is None or task.owner != owner_of(agent):
            raise MCPError(types.INVALID_PARAMS, "unknown task id: use an id from your own tasks/list")
        return task

    def of(self, agent: AgentIdentity) -> list[tuple[str, BookedTask]]:
        owner = owner_of(agent)
        return [(task_id, task) for task_id, task in list(self._tasks.items()) if task.owner == owner]


def owner_of(agent: AgentIdentity) -> tuple[str, str | None]:
    return (agent.id, agent.end_user)


Run = Callable[[ToolCall], Awaitable[ToolOutput]]
Shape = Callable[[ToolOutput], types.CallToolResult]


class Tasks:
    """Server middleware: answers task-augmented `tools/call` and `tasks/*` (module docstring)."""

    def __init__(
        self, snapshot: Callable[[], Snapshot], run: Run, shape: Shape, levels: LogLevels, book: TaskBook
    ) -> None:
        self._snapshot = snapshot
        self._run = run
        self._shape = shape
        self._levels = levels
        self.book = book

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        method, params = ctx.method, ctx.params or {}
        if method == "initialize":
            result = await call_next(ctx)
            offered = isinstance(result, dict) and result.get("protocolVersion") == TASKS_VERSION
            if offered and isinstance(result, dict) and self._offers_tasks(caller(), narrowing(ctx)):
                result.setdefault("capabilities", {})["tasks"] = CAPABILITY
            return result
        if ctx.protocol_version != TASKS_VERSION:
            return await call_next(ctx)
        if method == "tools/call" and params.get("task") is not None:
            return await self._start(ctx, params)
        if method not in TASK_METHODS:
            return await call_next(ctx)
        agent = caller()
        if method == "tasks/list":
            cursor = params.get("cursor")
            return await self._list(ctx, agent, cursor if isinstance(cursor, str) else None)
        task_id = params.get("taskId")
        task = self.book.find(task_id, agent)
        assert isinstance(task_id, str)
        output = await self._step(ctx, agent, task, TaskStep(method, {"taskId": task.upstream_id}))
        if method == "tasks/result":
            result = self._result(output)
            result.setdefault("_meta", {})[RELATED_TASK] = {"taskId": task_id}
            return result
        return _as_task(output, task_id)

    def _result(self, output: ToolOutput) -> dict[str, Any]:
        """A CallToolResult as a 2025-11-25 client reads it (the SDK's serializer for that revision)."""
        dumped = self._shape(output).model_dump(by_alias=True, mode="json", exclude_none=True)
        return dict(serialize_server_result("tools/call", TASKS_VERSION, dumped))

    def _offers_tasks(self, agent: AgentIdentity, only: frozenset[str] | None) -> bool:
        """Whether the caller may call any tool as a task: only then is `tasks` declared."""
        for tool in self._snapshot().granted_tools(agent, only):
            execution = tool.definition.execution
            if execution is not None and execution.task_support in ("optional", "required"):
                return True
        return False

    async def _start(self, ctx: ServerRequestContext[Any, Any], params: Mapping[str, Any]) -> HandlerResult:
        name, task, arguments = params.get("name"), params.get("task"), params.get("arguments") or {}
        if not isinstance(name, str) or not isinstance(task, dict) or not isinstance(arguments, dict):
            raise MCPError(types.INVALID_PARAMS, "tools/call needs a tool name, object arguments and task")
        agent, snapshot = caller(), self._snapshot()
        tool = snapshot.tools.get(name)
        support = tool.definition.execution.task_support if tool and tool.definition.execution else None
        if tool is not None and support not in ("optional", "required"):
            raise MCPError(
                types.METHOD_NOT_FOUND,
                f"tool '{name}' cannot run as a task (its execution.taskSupport is "
                f"'{support or 'forbidden'}'): call it without params.task",
            )
        call = ToolCall(
            request_id=current_request_id() or secrets.token_hex(8),
            agent=agent,
            tool_name=name,
            arguments=dict(arguments),
            snapshot=snapshot,
            only_connectors=narrowing(ctx),
            cache_bypass=bypasses_cache(params.get("_meta")),
            channel=McpClientChannel(ctx, self._levels),
            task=TaskStep("tools/call", task),
        )
        output = await self._run(call)
        if output.task is None:  # refused, failed, or the upstream answered at once: a tool result
            return self._result(output)
        booked = BookedTask(
            owner_of(agent), name, call.arguments, str(output.task["taskId"]), call.only_connectors
        )
        return {"task": _renamed(output.task, self.book.add(booked))}

    async def _step(
        self, ctx: ServerRequestContext[Any, Any], agent: AgentIdentity, task: BookedTask, step: TaskStep
    ) -> ToolOutput:
        call = ToolCall(
            request_id=current_request_id() or secrets.token_hex(8),
            agent=agent,
            tool_name=task.tool,
            arguments=dict(task.arguments),
            snapshot=self._snapshot(),
            only_connectors=task.only,
            cache_bypass=True,
            channel=McpClientChannel(ctx, self._levels),
            task=step,
        )
        return await self._run(call)

    async def _list(
        self, ctx: ServerRequestContext[Any, Any], agent: AgentIdentity, cursor: str | None
    ) -> HandlerResult:
        """A page of the caller's own tasks, each as its upstream reports it now (a bad cursor: -32602)."""
        page, next_cursor = paginate(self.book.of(agent), cursor, "tasks")
        listed: list[dict[str, Any]] = []
        for task_id, task in page:
            output = await self._step(ctx, agent, task, TaskStep("tasks/get", {"taskId": task.upstream_id}))
            if output.task is not None:
                listed.append(_renamed(output.task, task_id))
        return {"tasks": listed, "nextCursor": next_cursor} if next_cursor else {"tasks": listed}


def _as_task(output: ToolOutput, task_id: str) -> dict[str, Any]:
    if output.task is None:  # the pipeline refused the step (policy, upstream): say it readably
        text = " ".join(str(block.get("text", "")) for block in output.content) or "the task step failed"
        raise MCPError(types.INTERNAL_ERROR, text)
    return _renamed(output.task, task_id)


def _renamed(task: Mapping[str, Any], task_id: str) -> dict[str, Any]:
    renamed = dict(task)
    renamed["taskId"] = task_id
    renamed.setdefault("lastUpdatedAt", renamed.get("createdAt") or _now())
    return renamed


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
