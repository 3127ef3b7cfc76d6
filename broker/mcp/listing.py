"""tools/list without per-request pydantic work on the tool definitions.

The SDK turns a handler's `ListToolsResult` into its wire form with several pydantic passes over
every tool (dump, validate and dump against the protocol version's schema, then the JSON-RPC
envelope): ~50 us per tool per request, half a second for 10,000 tools. Here each catalog
tool's wire form is computed once per protocol version, by the SDK's own serializer, and kept
on the `CatalogTool` (which lives as long as its connector's tools do not change); an agent's
view is a tuple of those, memoised per snapshot. A listing is served in pages of `PAGE_SIZE`.

The handler still returns a `ListToolsResult` (so the SDK's gates, cache hints, `resultType`
and `_meta` stamps shape the envelope for the caller's protocol version) but with no tools
in it; `SpliceTools`, a server middleware, puts the page's prebuilt definitions into the wire
result the SDK produced. Without the middleware the handler returns the tools itself.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import mcp_types as types
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.shared.exceptions import MCPError
from mcp_types.methods import serialize_server_result

from broker.catalog import CatalogTool

PAGE_SIZE = 100
"""Tools per tools/list page: the SDK's transport re-serialises each page (~25 us a tool)."""
_CURSOR_PREFIX = "t1:"
_ENVELOPE = {"ttlMs": 0, "cacheScope": "private", "resultType": "complete"}
"""What a 2026-07-28 result requires besides the tools (older versions' schemas drop it)."""


@dataclass(slots=True)
class _Slot:
    tools: list[dict[str, Any]] | None = None


_slot: ContextVar[_Slot | None] = ContextVar("broker_tools_page", default=None)


def page_of(
    tools: Sequence[CatalogTool], cursor: str | None, version: str
) -> tuple[list[dict[str, Any]], str | None]:
    """The wire definitions of one page of `tools` and the cursor of the next page (None: last)."""
    start = _offset(cursor, len(tools))
    chunk = tools[start : start + PAGE_SIZE]
    missing = [tool for tool in chunk if version not in tool.wire]
    if missing:
        dumped = [t.definition.model_dump(by_alias=True, mode="json", exclude_none=True) for t in missing]
        wire = serialize_server_result("tools/list", version, _ENVELOPE | {"tools": dumped})["tools"]
        for tool, form in zip(missing, wire, strict=True):
            tool.wire[version] = form
    end = start + len(chunk)
    next_cursor = _cursor(end) if end < len(tools) else None
    return [tool.wire[version] for tool in chunk], next_cursor


def list_result(
    tools: Sequence[CatalogTool], cursor: str | None, version: str, *, ttl_ms: int
) -> types.ListToolsResult:
    """The handler's result for one page: empty when `SpliceTools` will fill it in."""
    page, next_cursor = page_of(tools, cursor, version)
    slot = _slot.get()
    if slot is not None:
        slot.tools = page
        listed = []
    else:
        listed = [types.Tool.model_validate(form) for form in page]
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


def _cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"{_CURSOR_PREFIX}{offset}".encode()).decode()


def _offset(cursor: str | None, total: int) -> int:
    if cursor is None:
        return 0
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
        offset = int(text.removeprefix(_CURSOR_PREFIX)) if text.startswith(_CURSOR_PREFIX) else -1
    except (binascii.Error, UnicodeError, ValueError):
        offset = -1
    if offset < 0:
        raise MCPError(types.INVALID_PARAMS, "invalid cursor: list the tools again without a cursor")
    return min(offset, total)
