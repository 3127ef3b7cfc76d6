"""MCP tasks (2025-11-25) on an upstream session: the connector's half of broker/mcp/tasks.py.

Why this goes past the SDK: mcp 2.3 leaves `tasks/*` out of its method tables and validates a
`tools/call` answer as `CallToolResult | InputRequiredResult` only, so `Client.call_tool` and
`ClientSession.send_request` both refuse the `CreateTaskResult` a task-augmented call gets.
The steps are therefore sent with the session's dispatcher (`send_raw_request`, the call
`send_request` makes after building its envelope) and their answers checked here with the
SDK's own result models where they exist (`CallToolResult` for `tasks/result`) and by shape
for the task objects (`taskId` and `status` strings), which the gateway rewrites and passes on.

Upstreams keep a task with the session that created it (the TypeScript SDK's task stores
do), so every step goes over the caller's main upstream session, never the 2025 slot a
client that can answer requests gets for plain calls (`relay.LEGACY_SLOT`): a caller may
start a task from one client session and poll it from another.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import mcp_types as types
from mcp.client.client import Client
from pydantic import ValidationError

from connectors.base import TaskStep, ToolOutput
from connectors.errors import UpstreamBadResponse
from connectors.mcp.results import tool_output
from connectors.scrub import Scrubber

TASK_METHODS = frozenset({"tasks/get", "tasks/result", "tasks/cancel"})


def supports_tasks(execution: Mapping[str, Any] | None) -> bool:
    return execution is not None and execution.get("taskSupport") in ("optional", "required")


async def send_step(
    client: Client, tool: str, arguments: Mapping[str, Any], step: TaskStep, read_seconds: float
) -> dict[str, Any]:
    """Send one task step on the upstream session and return its raw result."""
    if step.method == "tools/call":
        params: dict[str, Any] = {"name": tool, "arguments": dict(arguments), "task": dict(step.params)}
    elif step.method in TASK_METHODS:
        params = {"taskId": str(step.params["taskId"])}
    else:
        raise ValueError(f"not a task step: {step.method}")
    dispatcher = client.session._dispatcher
    result = await dispatcher.send_raw_request(step.method, params, {"timeout": read_seconds})
    return dict(result)


def step_output(raw: Mapping[str, Any], step: TaskStep, limit: int, scrub: Scrubber, name: str) -> ToolOutput:
    """The upstream's answer to a step: a tool result for `tasks/result`, else the task object."""
    if step.method == "tasks/result":
        try:
            result = types.CallToolResult.model_validate(raw, by_name=False)
        except ValidationError:
            raise UpstreamBadResponse(
                f"upstream '{name}' answered tasks/result with no tool result"
            ) from None
        return tool_output(result, limit, scrub, name)
    task = raw.get("task") if step.method == "tools/call" else raw
    if not isinstance(task, Mapping) or not _is_task(task):
        if step.method == "tools/call" and "content" in raw:  # ran at once, not as a task
            return tool_output(types.CallToolResult.model_validate(raw, by_name=False), limit, scrub, name)
        raise UpstreamBadResponse(f"upstream '{name}' answered {step.method} with no task")
    clean = scrub.json(dict(task)) if scrub else dict(task)
    return ToolOutput(content=[], task=clean)


def _is_task(task: Mapping[str, Any]) -> bool:
    return isinstance(task.get("taskId"), str) and isinstance(task.get("status"), str)
