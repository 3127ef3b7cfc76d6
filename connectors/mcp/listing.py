"""A big upstream's tools/list read without holding the event loop.

A listing of a thousand tools is ~10 MB of JSON. The SDK parses it in one call (~140 ms here)
and validates it in a few more (~40 ms at 2026-07-28, ~140 ms at 2025-11-25), each on the
event loop and holding the GIL, so a worker thread would not free the loop either. Here the
same steps are cut into pieces that yield to the loop between them: `loads` parses the
outer levels of a JSON text itself and each element below them with the standard decoder
(used by the lean post, `connectors/mcp/lean.py`, for big answers), and `list_tools_page`
is `Client.list_tools` (no response cache) with the tools validated a slice at a time.
Results are the same: the SDK's request stamp, timeout, revision checks and per-tool state.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from typing import Any

import mcp_types as types
from mcp.client.client import Client
from mcp.client.session import _clamp_inbound_ttl, _later_revision_fields
from mcp.shared.dispatcher import CallOptions
from mcp_types import methods

TOOLS_PER_SLICE = 50
"""Tools validated between two yields (~2 ms at 2026-07-28, ~7 ms at 2025-11-25 for ~10 KB tools)."""
CHARS_PER_SLICE = 512 * 1024
"""JSON text parsed between two yields (~5 ms here)."""
_DEPTH = 3
"""Levels parsed by `loads` itself: message, result, list of tools; each tool in one decoder call."""
_SPACE = re.compile(r"[ \t\n\r]*")
_METHOD = "tools/list"


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")  # json.loads takes NaN and Infinity; JSON does not


_DECODER = json.JSONDecoder(parse_constant=_no_constant)


async def loads(text: str) -> Any:
    """`json.loads(text)` (NaN and Infinity refused), yielding to the loop every `CHARS_PER_SLICE`."""
    parser = _Parser(text)
    value, end = await parser.value(parser.skip(0), 0)
    end = parser.skip(end)
    if end != len(text):
        raise json.JSONDecodeError("Extra data", text, end)
    return value


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.paused_at = 0

    def skip(self, at: int) -> int:
        match = _SPACE.match(self.text, at)
        assert match is not None  # the pattern matches the empty string
        return match.end()

    async def value(self, at: int, depth: int) -> tuple[Any, int]:
        if at - self.paused_at >= CHARS_PER_SLICE:
            self.paused_at = at
            await asyncio.sleep(0)
        opening = self.text[at : at + 1]
        if depth < _DEPTH and opening == "{":
            return await self._object(at, depth)
        if depth < _DEPTH and opening == "[":
            return await self._array(at, depth)
        value, end = _DECODER.raw_decode(self.text, at)
        return value, end

    async def _object(self, at: int, depth: int) -> tuple[dict[str, Any], int]:
        text, found = self.text, dict[str, Any]()
        at = self.skip(at + 1)
        if text[at : at + 1] == "}":
            return found, at + 1
        while True:
            if text[at : at + 1] != '"':
                raise json.JSONDecodeError("Expecting property name enclosed in double quotes", text, at)
            key, at = _DECODER.raw_decode(text, at)
            at = self.skip(at)
            if text[at : at + 1] != ":":
                raise json.JSONDecodeError("Expecting ':' delimiter", text, at)
            found[key], at = await self.value(self.skip(at + 1), depth + 1)
            at = self.skip(at)
            if text[at : at + 1] == "}":
                return found, at + 1
            if text[at : at + 1] != ",":
                raise json.JSONDecodeError("Expecting ',' delimiter", text, at)
            at = self.skip(at + 1)

    async def _array(self, at: int, depth: int) -> tuple[list[Any], int]:
        text, found = self.text, list[Any]()
        at = self.skip(at + 1)
        if text[at : at + 1] == "]":
            return found, at + 1
        while True:
            item, at = await self.value(at, depth + 1)
            found.append(item)
            at = self.skip(at)
            if text[at : at + 1] == "]":
                return found, at + 1
            if text[at : at + 1] != ",":
                raise json.JSONDecodeError("Expecting ',' delimiter", text, at)
            at = self.skip(at + 1)


async def list_tools_page(client: Client, cursor: str | None) -> types.ListToolsResult:
    """`client.list_tools(cursor=cursor)` of a client without a response cache, its tools
    validated `TOOLS_PER_SLICE` at a time (the SDK's `ClientSession.send_request` and
    `list_tools`, step by step; a pydantic ValidationError names the index within a slice)."""
    session = client.session
    request = types.ListToolsRequest(params=types.PaginatedRequestParams(cursor=cursor))
    data = request.model_dump(by_alias=True, mode="json", exclude_none=True)
    opts: CallOptions = {}
    session._stamp(data, opts)
    if (timeout := session._session_read_timeout_seconds) is not None:
        opts["timeout"] = timeout
    raw = await session._dispatcher.send_raw_request(_METHOD, data.get("params"), opts)
    _clamp_inbound_ttl(raw)
    version = session._negotiated_version or "2025-11-25"
    tools = raw.get("tools")
    slices = (
        [tools[start : start + TOOLS_PER_SLICE] for start in range(0, len(tools), TOOLS_PER_SLICE)]
        if isinstance(tools, list) and len(tools) > TOOLS_PER_SLICE
        else None  # small, or not a list at all: in one piece, as the SDK does
    )
    for page in [raw] if slices is None else [{**raw, "tools": part} for part in slices]:
        with contextlib.suppress(KeyError):  # a method the revision does not know: as the SDK
            methods.validate_server_result(_METHOD, version, page)
        if slices is not None:
            await asyncio.sleep(0)
    if not (foreign := _later_revision_fields(_METHOD, version)).isdisjoint(raw):
        raw = {key: value for key, value in raw.items() if key not in foreign}
    if slices is None:
        result = types.ListToolsResult.model_validate(raw, by_name=False)
    else:
        result = types.ListToolsResult.model_validate({**raw, "tools": []}, by_name=False)
        for part in slices:
            piece = types.ListToolsResult.model_validate({**raw, "tools": part}, by_name=False)
            result.tools.extend(piece.tools)
            await asyncio.sleep(0)
    return session._absorb_tool_listing(result, complete=cursor is None and result.next_cursor is None)
