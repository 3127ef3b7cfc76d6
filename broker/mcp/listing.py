"""tools/list without per-request pydantic work on the tool definitions.

The SDK turns a handler's `ListToolsResult` into its wire form with several pydantic passes over
every tool (dump, validate and dump against the protocol version's schema, then the JSON-RPC
envelope): ~50 us per tool per request, half a second for 10,000 tools. Here each catalog
tool's wire form is computed once per protocol version, by the SDK's own serializer, and kept
on the `CatalogTool` (which lives as long as its connector's tools do not change); an agent's
view is a tuple of those, memoised per snapshot, paged by `broker.mcp.pages`.

The handler still returns a `ListToolsResult` (so the SDK's gates, cache hints, `resultType`
and `_meta` stamps shape the envelope for the caller's protocol version) but with no tools
in it; `SpliceTools`, a server middleware, puts the page's prebuilt definitions into the wire
result the SDK produced. Without the middleware the handler returns the tools itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import mcp_types as types
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp_types.methods import serialize_server_result

from broker.catalog import CatalogTool

_ENVELOPE = {"ttlMs": 0, "cacheScope": "private", "resultType": "complete"}
"""What a 2026-07-28 result requires besides the tools (older versions' schemas drop it)."""


@dataclass(slots=True)
class _Slot:
    tools: list[dict[str, Any]] | None = None


_slot: ContextVar[_Slot | None] = ContextVar("broker_tools_page", default=None)


def wire_forms(tools: Sequence[CatalogTool], version: str) -> list[dict[str, Any]]:
    """The tools' definitions as a tools/list result of `version` carries them, built once per tool."""
    missing = [tool for tool in tools if version not in tool.wire]
    if missing:
        dumped = [t.definition.model_dump(by_alias=True, mode="json", exclude_none=True) for t in missing]
        wire = serialize_server_result("tools/list", version, _ENVELOPE | {"tools": dumped})["tools"]
        for tool, form in zip(missing, wire, strict=True):
            tool.wire[version] = form
    return [tool.wire[version] for tool in tools]


def list_result(
    page: Sequence[CatalogTool], next_cursor: str | None, version: str, *, ttl_ms: int
) -> types.ListToolsResult:
    """The handler's result for one page: without tools when `SpliceTools` will put them in."""
    forms = wire_forms(page, version)
    slot = _slot.get()
    if slot is not None:
        slot.tools = forms
        listed = []
    else:
        listed = [types.Tool.model_validate(form) for form in forms]
    return types.ListToolsResult(tools=listed, next_cursor=next_cursor, ttl_ms=ttl_ms, cache_scope="private")


class SpliceTools:
    """Server middleware: puts the page a tools/list handler prepared into the SDK's wire result."""

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        if ctx.method != "tools/list":
            return await call_next(ctx)
        slot = _Slot()
        token = _slot.set(slot)
        try:
            result = await call_next(ctx)
        finally:
            _slot.reset(token)
        if slot.tools is not None and isinstance(result, dict) and result.get("tools") == []:
            result["tools"] = slot.tools
        return result
