"""JSON-RPC errors on /mcp carry the request's correlation ids in `data`."""

from __future__ import annotations

from typing import Any

from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.shared.exceptions import MCPError

from broker.telemetry.logs import correlation_ids


class CorrelateErrors:
    """Server middleware: an error answer names the request (`request_id`, and `trace_id`
    when tracing), as the X-Request-Id header does, so a pasted error leads to its log lines
    and audit record. Data the error already has is kept."""

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        try:
            return await call_next(ctx)
        except MCPError as exc:
            if not correlation_ids():
                raise
            raise MCPError(exc.code, exc.message, correlated(exc.data)) from None


def correlated(data: Any) -> Any:
    """An error's `data` with the request's correlation ids merged in (also broker.mcp.fastpath)."""
    ids = correlation_ids()
    if not ids:
        return data
    return (
        {**data, **ids} if isinstance(data, dict) else {**ids, **({} if data is None else {"detail": data})}
    )
