from __future__ import annotations

from jsonschema.exceptions import best_match

from broker.errors import InvalidArguments
from broker.pipeline.call import Next, ToolCall
from connectors.base import ToolOutput


class ValidateArguments:
    """Check arguments against the tool's inputSchema before anything goes upstream."""

    async def __call__(self, call: ToolCall, call_next: Next) -> ToolOutput:
        assert call.tool is not None, "Authorize resolves the tool first"
        error = best_match(call.tool.validator.iter_errors(call.arguments))
        if error is not None:
            where = "/".join(str(p) for p in error.absolute_path) or "(arguments)"
            raise InvalidArguments(
                f"Invalid arguments for {call.tool_name}: {where}: {error.message}. "
                "The tool's inputSchema lists what it accepts.",
                audit_message=f"invalid arguments: {where} failed the '{error.validator}' check",
            )
        return await call_next(call)
