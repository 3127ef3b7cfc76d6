"""The JSON the MCP fast path writes: what the SDK would write for the same 2026-07-28 request.

The SDK shapes a handler's result in `ServerRunner._serialize` (dump the model, validate and
sieve it against the protocol version's schema, `resultType`, the `serverInfo` stamp in
`_meta`) and writes the JSON-RPC envelope with `json.dumps`. For the common tools/call result
(text blocks) every step of that is known in advance, so the dict is
built directly; other content blocks take the SDK's own steps (`sdk_shaped`). `to_json` writes
the bytes (UTF-8 rather than `\\uXXXX` escapes: the same JSON once parsed).
The tests compare both paths' answers for the same requests (tests/e2e/test_mcp_fastpath.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
import pydantic_core
from mcp.shared.inbound import ERROR_CODE_HTTP_STATUS
from mcp_types import SERVER_INFO_META_KEY
from mcp_types.methods import serialize_server_result
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import BaseModel

from broker.mcp.context import LIST_TTL_MS
from broker.mcp.server import to_result
from connectors.base import ToolOutput

OK = 200

_PLAIN_VALUES_ONLY = (
    orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_SUBCLASS
)
"""orjson refuses (TypeError) what it would write otherwise than pydantic-core: datetimes,
dataclasses and subclasses of str, int, dict and list."""


def to_json(value: Any) -> bytes:
    """`value` as JSON, as the SDK writes it: non-finite floats as null, as its `model_dump(mode=
    "json")` leaves them (pydantic-core's `to_json` alone writes a bare NaN, which JSON.parse and
    other strict readers refuse).

    orjson writes plain values (str, int within 64 bits, float, bool, None, lists, tuples, dicts
    with str keys) 2-3 times faster than pydantic-core, byte for byte as it writes them (the same
    shortest floats, the same escapes; tests/broker/test_wire_json.py); anything else, an integer
    past 64 bits above all, goes to pydantic-core."""
    try:
        return orjson.dumps(value, option=_PLAIN_VALUES_ONLY)
    except TypeError:  # orjson.JSONEncodeError included
        return pydantic_core.to_json(value, inf_nan_mode="null")


def sdk_shaped(method: str, version: str, result: BaseModel, stamp: Mapping[str, Any]) -> dict[str, Any]:
    """A handler result as `ServerRunner._serialize` shapes it (no cache hints are configured)."""
    dumped: dict[str, Any] = result.model_dump(by_alias=True, mode="json", exclude_none=True)
    dumped = serialize_server_result(method, version, dumped)
    if version in MODERN_PROTOCOL_VERSIONS:
        if dumped.get("resultType") is None:
            dumped["resultType"] = "complete"
        meta = dumped.get("_meta")
        if meta is None:
            dumped["_meta"] = {SERVER_INFO_META_KEY: stamp}
        elif isinstance(meta, dict) and meta.get(SERVER_INFO_META_KEY) is None:
            dumped["_meta"] = {**meta, SERVER_INFO_META_KEY: stamp}
    return dumped


def tool_result(output: ToolOutput, version: str, stamp: Mapping[str, Any]) -> dict[str, Any]:
    """A tools/call result: built directly when every block is text, else the SDK's way."""
    if any(block.get("type") != "text" for block in output.content):
        return sdk_shaped("tools/call", version, to_result(output), stamp)
    # The result `_meta` is an open map whose one typed key (serverInfo) is Any: the SDK's dump
    # keeps every entry but the top-level nulls, then stamps serverInfo unless the upstream set it.
    meta = {key: value for key, value in output.meta.items() if value is not None}
    if meta.get(SERVER_INFO_META_KEY) is None:
        meta[SERVER_INFO_META_KEY] = stamp
    result: dict[str, Any] = {
        "content": [{"type": "text", "text": str(block.get("text", ""))} for block in output.content],
        "isError": output.is_error,
        "resultType": "complete",
        "_meta": meta,
    }
    if output.structured is not None:
        result["structuredContent"] = dict(output.structured)
    return result


def tools_page(forms: list[dict[str, Any]], cursor: str | None, stamp: Mapping[str, Any]) -> bytes:
    """One tools/list result (the SDK's envelope for a page of prebuilt definitions), as JSON."""
    result: dict[str, Any] = {
        "tools": forms,
        "ttlMs": LIST_TTL_MS,
        "cacheScope": "private",
        "resultType": "complete",
        "_meta": {SERVER_INFO_META_KEY: stamp},
    }
    if cursor is not None:
        result["nextCursor"] = cursor
    return to_json(result)


def response(request_id: str | int, result: bytes) -> bytes:
    """The JSON-RPC response around a result already in JSON."""
    return b'{"jsonrpc":"2.0","id":%b,"result":%b}' % (to_json(request_id), result)


def result_response(request_id: str | int, result: dict[str, Any]) -> bytes:
    """`response(request_id, to_json(result))` written in one pass: the result's JSON is not
    copied into the envelope (a 5 MB result: 5 MB less to allocate and copy)."""
    return to_json({"jsonrpc": "2.0", "id": request_id, "result": result})


def error(request_id: str | int, code: int, message: str, data: Any = None) -> tuple[int, bytes]:
    """A JSON-RPC error and its HTTP status, as the SDK maps them."""
    body: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        body["data"] = data
    envelope = {"jsonrpc": "2.0", "id": request_id, "error": body}
    return ERROR_CODE_HTTP_STATUS.get(code, OK), to_json(envelope)
