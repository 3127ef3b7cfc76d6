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

Only the common outcome is finished here: a plain `CallToolResult`. Anything else (an error
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
from mcp.client.session import _clamp_inbound_ttl, _later_revision_fields
from mcp.shared.dispatcher import CallOptions
from mcp.shared.exceptions import MCPError
from mcp_types import methods
from mcp_types.version import KNOWN_PROTOCOL_VERSIONS
from pydantic import TypeAdapter, ValidationError

from connectors.base import ClientChannel
from connectors.mcp import lean, relay

_METHOD = "tools/call"


def call_tool(
    client: Client, name: str, arguments: dict[str, Any], channel: ClientChannel
) -> Awaitable[types.CallToolResult] | None:
    """`client.call_tool(name, arguments)` done here, or None when this call is not one for
    this module (the caller then takes `relay.call_tool`)."""
    post = lean.post_for(client)
    if post is None or not lean.quiet(channel) or any(channel.defers(m) for m in relay.INPUT_METHODS):
        return None
    return _call(client, post, name, arguments)


async def _call(
    client: Client, post: lean.Post, name: str, arguments: dict[str, Any]
) -> types.CallToolResult:
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
