"""An upstream's JSON-RPC answer to a lean post (`lean_wire.py`), read as the SDK's transport reads it."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import mcp_types as types
import orjson
import pydantic_core
from mcp_types.jsonrpc import jsonrpc_message_adapter

from connectors.mcp import listing

log = logging.getLogger(__name__)
_RESPONSE_KEYS = frozenset({"jsonrpc", "id", "result"})
_PAST_64_BITS = 19
"""Digits in a row from which an integer may be past 64 bits (-9223372036854775809 has 19)."""
_ORJSON_MOST = 2_000_000
"""Answers longer than this are read by pydantic-core alone: orjson read 0.1-2 MB of text block in
about half its time, but no faster from ~2.5 MB (5 MB: 5.3 against 5.1 ms)."""


def refused(status: int) -> types.ErrorData:
    if status == 404:  # no session on 2026-07-28: the HTTP spelling of METHOD_NOT_FOUND
        return types.ErrorData(code=types.METHOD_NOT_FOUND, message="Not Found")
    return types.ErrorData(code=types.INTERNAL_ERROR, message="Server returned an error response")


def unparsed(exc: Exception | str) -> types.ErrorData:
    log.warning("Error parsing JSON response: %s", exc)
    return types.ErrorData(code=types.PARSE_ERROR, message=f"Failed to parse JSON response: {exc}")


def plain_result(data: bytes | str, *, big: bool = False) -> dict[str, Any] | None:
    """The result of a plain JSON-RPC response (exactly `jsonrpc` "2.0", an integer or string
    `id` and an object `result`), read in one pass as pydantic-core's parser (the SDK's own) reads
    it, an integer past 64 bits staying an integer (`_read`); None for anything
    else (an error, a request, another key, text it refuses such as a NaN), which `message`
    reads as pydantic does. The same result either way, at a fraction of the cost of validating
    the envelope model (~10% of the connector's CPU per call).

    A big answer is None too (`message` parses it with the loop free between pieces), unless
    `big`: a tools/call's answer, whose content the connector then measures in one pass anyway
    (`results.json_size`), and whose 5 MB text block the standard decoder read in one call
    of ~10 ms where this takes ~6.

    Only keys are interned (`cache_strings="keys"`): a result's values rarely repeat, and looking
    each up in jiter's string cache made the parse ~30% slower (2 KB: 12.5 -> 8 us; 100 KB:
    459 -> 320 us). The strings are equal either way; only their sharing differs."""
    if len(data) >= listing.CHARS_PER_SLICE and not big:
        return None
    try:
        message = _read(data)
    except ValueError:
        return None
    if type(message) is not dict or message.keys() != _RESPONSE_KEYS or message["jsonrpc"] != "2.0":
        return None
    result, request_id = message["result"], message["id"]
    if type(result) is not dict or not (type(request_id) is int or type(request_id) is str):
        return None  # a bool is not an id: pydantic's strict int refuses it too
    return result


def _read(data: bytes | str) -> Any:
    """The JSON text `data` as pydantic-core reads it: by orjson where that is the same, ~2x as
    fast (a 100 KB text block's answer ~98 -> ~55 us, the check below included). Only an integer
    past 64 bits comes out of orjson otherwise (a float), and it has 19 digits or more: a text
    with such a run anywhere (a long id in a string too) is read by pydantic-core, and so is one
    orjson refuses (a number past a double's range, which pydantic-core reads as an infinity).
    tests/connectors/mcp/test_answer_read.py holds the two to the same values and types."""
    if digit_run is not None and len(data) <= _ORJSON_MOST and not digit_run(data, _PAST_64_BITS):
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            pass
    return pydantic_core.from_json(data, allow_inf_nan=False, cache_strings="keys")


def reference_digit_run(text: bytes | str, length: int) -> bool:
    """Whether `text` holds `length` or more ASCII digits in a row: the reference of the native one."""
    run = 0
    for unit in text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text:
        run = run + 1 if 0x30 <= unit <= 0x39 else 0
        if run >= length:
            return True
    return length <= 0


digit_run: Callable[[bytes | str, int], bool] | None
try:  # natively, where it is built (broker/pii/native/src/digits.rs); without it, pydantic-core reads all
    from broker.pii._native import digit_run
except ImportError:  # pragma: no cover - no Rust toolchain
    digit_run = None


async def message(data: bytes | str) -> types.JSONRPCMessage:
    """One JSON-RPC message; a big one (a listing of a thousand tools) parsed with the loop free
    between pieces (listing.loads) and its envelope validated as pydantic reads the JSON."""
    if len(data) < listing.CHARS_PER_SLICE:
        return jsonrpc_message_adapter.validate_json(data, by_name=False)
    text = data.decode() if isinstance(data, bytes) else data
    return jsonrpc_message_adapter.validate_python(await listing.loads(text), by_name=False)


def answer(message: types.JSONRPCMessage) -> dict[str, Any] | types.ErrorData:
    if isinstance(message, types.JSONRPCResponse):
        return message.result
    if isinstance(message, types.JSONRPCError):
        return message.error
    return types.ErrorData(code=types.PARSE_ERROR, message="the answer is not a JSON-RPC response")
