"""Decoding JSON that a client sent: bounded nesting, and one 400 error for everything unreadable.

Python's own decoder recurses once per level and raises RecursionError (not ValueError)
near 1,000 levels, and values a little shallower still break later recursive steps
(validation, masking, canonical cache keys). pydantic-core's decoder (jiter, Rust) stops at
`MAX_DEPTH` levels with a ValueError, and is as fast as the standard library's.
"""

from __future__ import annotations

import json
from typing import Any

import pydantic_core

from broker.errors import MalformedBody

MAX_DEPTH = 200
"""Deepest nesting of arrays and objects a request body may have (jiter's fixed limit): far
beyond real payloads (chat messages with tool schemas nest ~20 levels), far below the
interpreter's recursion limit."""


_STEPWISE = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def dumps_in_steps(value: Any) -> bytes:
    """Compact JSON by the pure-Python encoder, for a big answer rendered in a worker thread:
    slower than `json.dumps`, but it hands the GIL back between values, where the C encoder
    (or pydantic's) holds it for the whole document and the event loop waits."""
    return "".join(_STEPWISE.iterencode(value)).encode()


def _too_deep(what: str) -> MalformedBody:
    return MalformedBody(
        f"{what} nests arrays and objects more than {MAX_DEPTH} levels deep; send a flatter document"
    )


def loads(data: bytes | str, *, what: str = "the request body") -> Any:
    """Decode JSON text with bounded nesting; every failure is a MalformedBody (400) saying what is wrong."""
    try:
        return pydantic_core.from_json(data, cache_strings="keys")  # (see connectors/mcp/answers.py)
    except ValueError as exc:
        if str(exc).startswith("recursion limit exceeded"):
            raise _too_deep(what) from None
        raise MalformedBody(f"{what} is not valid JSON: {exc}") from None


def check_depth(data: bytes, *, what: str = "the request body") -> None:
    """Raise MalformedBody when `data` nests deeper than MAX_DEPTH; other faults are left to the
    caller's own decoder. Cheap for ordinary bodies: fewer openings than the limit cannot be too deep."""
    if data.count(b"[") + data.count(b"{") <= MAX_DEPTH:
        return
    try:
        pydantic_core.from_json(data)
    except ValueError as exc:
        if str(exc).startswith("recursion limit exceeded"):
            raise _too_deep(what) from None
