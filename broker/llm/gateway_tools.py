"""The tool path seen from the model path: the agent's granted tools, and a runner that sends a
model's tool call through the same pipeline as an MCP tools/call (policy, validation, cache,
masking, credentials, audit), for the tool loop (broker/llm/toolloop.py)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from broker.catalog import AgentIdentity, Snapshot
from broker.errors import ToolCallError
from broker.llm.toolloop import GatewayTools
from broker.pipeline import Next, ToolCall
from connectors.base import ToolOutput


def gateway_tools(snapshot: Callable[[], Snapshot], pipeline: Next, max_steps: int) -> GatewayTools:
    def offer(agent: AgentIdentity) -> list[tuple[str, str, dict[str, Any]]]:
        return [
            (tool.name, tool.description or "", dict(tool.input_schema or {}))
            for tool in snapshot().visible_tools(agent, None)
        ]

    async def run(
        agent: AgentIdentity, request_id: str, name: str, arguments: dict[str, Any]
    ) -> tuple[str, bool]:
        call = ToolCall(
            request_id=request_id, agent=agent, tool_name=name, arguments=arguments, snapshot=snapshot()
        )
        try:
            output = await pipeline(call)
        except ToolCallError as exc:
            return f"error: {exc.message}", True
        assert isinstance(output, ToolOutput)
        return model_text(output), output.is_error

    return GatewayTools(offer=offer, run=run, max_steps=max_steps)


def model_text(output: ToolOutput) -> str:
    """What the model reads of a tool result: the structured JSON when there is one, else the text."""
    if output.structured is not None:
        return json.dumps(output.structured, ensure_ascii=False, separators=(",", ":"))
    texts = [str(block.get("text", "")) for block in output.content if block.get("type") == "text"]
    return "\n".join(texts) or json.dumps(list(output.content), ensure_ascii=False)
