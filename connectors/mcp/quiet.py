"""A quiet caller's tools/call on a 2026-07-28 session, without the SDK's request layers.

Why this module exists: with the wire already lean (`lean.py`), what `Client.call_tool` does
around it was the larger part of the connector's remaining CPU per call: a request model built
and dumped again, the result validated against the revision's schema and then dumped (the dump
thrown away), validated once more into the result model, and four layers of wrappers. For the
call the MCP fast path makes (a caller that hears nothing and answers nothing during the call,
`lean._quiet`), this does the same steps once each: the request as the SDK would dump it,
stamped by the session's own stamp (protocol version, client info, the caller's capabilities,
`Mcp-*` headers), the session's read timeout, the lean post; the result's ttl clamped, checked
against the negotiated revision's schema, parsed into the SDK's result type and checked against
the tool's output schema by the session.

Only the common outcome is finished here: a plain `CallToolResult`; one of text blocks alone
for a tool without an output schema (what most tools answer) is read straight from the answer
(`text_result`), the checks it would pass proven from its shape. Anything else (an error
answer such as `HEADER_MISMATCH`, an `InputRequiredResult`, a claimed extension result, a
later revision's fields, a result the schema refuses) goes to `Client.call_tool` with the
answer already received standing in for the post (`lean.replaying`): the SDK stays the author
of every other path (the re-list and resend, input rounds, claims, its errors), and the
upstream is asked once, as before.
"""

from __future__ import annotations

from collections.abc import Awaitable
from functools import cache
from typing import Any

import mcp_types as types
from mcp.client.client import Client
from mcp.client.session import (
    ClientSession,
    _CallToolResultAdapter,
    _clamp_inbound_ttl,
    _later_revision_fields,
)
from mcp.shared.dispatcher import CallOptions
from mcp.shared.exceptions import MCPError
from mcp_types import methods
from mcp_types.version import KNOWN_PROTOCOL_VERSIONS
from pydantic import TypeAdapter, ValidationError

from connectors.base import ClientChannel
from connectors.mcp import lean, relay
from connectors.mcp.results import TextResult

_METHOD = "tools/call"
_TEXT_REVISION = "2026-07-28"
"""The revision whose schema `text_result` was written against."""
_TEXT_RESULT_KEYS = frozenset({"content", "structuredContent", "isError", "resultType", "_meta"})


def call_tool(
    client: Client, name: str, arguments: dict[str, Any], channel: ClientChannel
) -> Awaitable[types.CallToolResult | TextResult] | None:
    """`client.call_tool(name, arguments)` done here, or None when this call is not one for
    this module (the caller then takes `relay.call_tool`)."""
    post = lean.post_for(client)
    if post is None or not lean.quiet(channel) or any(channel.defers(m) for m in relay.INPUT_METHODS):
        return None
    return _call(client, post, name, arguments)


async def _call(
    client: Client, post: lean.Post, name: str, arguments: dict[str, Any]
) -> types.CallToolResult | TextResult:
    session = client.session
    data: dict[str, Any] = {"method": _METHOD, "params": {"name": name, "arguments": arguments}}
    opts: CallOptions = {}
    session._stamp(data, opts)
    if (timeout := session._session_read_timeout_seconds) is not None:
        opts["timeout"] = timeout
    try:
        raw = await post(_METHOD, data["params"], opts)
    except MCPError as exc:
        return await _by_the_sdk(client, name, arguments, exc)
    if (text := text_result(session, name, raw)) is not None:
        return text
    result = _plain(session._negotiated_version or "2025-11-25", session._call_tool_adapter, raw)
    if result is None:
        return await _by_the_sdk(client, name, arguments, raw)
    if not result.is_error:
        await session.validate_tool_result(name, result)
    return result


def _plain(version: str, adapter: TypeAdapter[Any], raw: dict[str, Any]) -> types.CallToolResult | None:
    """The result as `ClientSession.send_request` reads it, when it is a plain `CallToolResult`."""
    _clamp_inbound_ttl(raw)
    surface = _surface(version)
    if surface is None or not _later_revision_fields(_METHOD, version).isdisjoint(raw):
        return None
    try:
        surface.validate_python(raw, by_name=False)
        result = adapter.validate_python(raw, by_name=False)
    except ValidationError:
        return None
    return result if type(result) is types.CallToolResult else None


def text_result(session: ClientSession, name: str, raw: dict[str, Any]) -> TextResult | None:
    """The result when it is a plain one of text blocks alone, for a tool without an output
    schema; else None (`_plain` then reads it with the models).

    Such a result passes both of `_plain`'s validations, proven from its shape: a 2026-07-28
    `CallToolResult` (its surface, and the SDK's model) takes `resultType` "complete",
    `content` a list of `{"type": "text", "text": <str>}`, `isError` a bool, `_meta` an object
    (open at both), `structuredContent` any JSON; neither knows a field that a later revision
    adds or `ttlMs` (keys are these five at most); InputRequiredResult's tag refuses
    "complete"; and the tool has no output schema to check it against (`validate_tool_result`
    does nothing then). Building the two models and dumping the blocks again was ~15% of the
    connector's CPU per call."""
    if session._negotiated_version != _TEXT_REVISION or raw.get("resultType") != "complete":
        return None
    if session._call_tool_adapter is not _CallToolResultAdapter or not _TEXT_RESULT_KEYS.issuperset(raw):
        return None  # an extension claims results, or a key the models would read
    schemas = session._tool_output_schemas
    if name not in schemas or schemas[name] is not None:
        return None
    blocks, is_error, meta = raw.get("content"), raw.get("isError", False), raw.get("_meta")
    if type(blocks) is not list or type(is_error) is not bool or not (meta is None or type(meta) is dict):
        return None
    content: list[dict[str, Any]] = []
    for block in blocks:
        if type(block) is not dict or len(block) != 2 or block.get("type") != "text":
            return None
        text = block.get("text")
        if type(text) is not str:
            return None
        content.append({"type": "text", "text": text})
    return TextResult(content, raw.get("structuredContent"), is_error, dict(meta) if meta else {})


@cache
def _surface(version: str) -> TypeAdapter[Any] | None:
    """What `methods.validate_server_result` checks a tools/call result against, without its dump."""
    row = methods.SERVER_RESULTS.get((_METHOD, version))
    return None if row is None or version not in KNOWN_PROTOCOL_VERSIONS else methods._adapter(row)


async def _by_the_sdk(
    client: Client, name: str, arguments: dict[str, Any], answer: dict[str, Any] | MCPError
) -> types.CallToolResult:
    with lean.replaying(answer):
        return await client.call_tool(name, arguments)
