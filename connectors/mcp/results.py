"""An upstream's tools/call answer as a `ToolOutput`: bounded in size, echoed secrets blanked;
or the `InputRequired` the call ended with (`relay.call_tool`)."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

import mcp_types as types
import orjson

from connectors.base import InputRequired, ToolOutput
from connectors.errors import UpstreamBadResponse
from connectors.mcp.session import size_text
from connectors.scrub import Scrubber


@dataclass(frozen=True, slots=True)
class TextResult:
    """A plain `CallToolResult` of text blocks alone, as `tool_output` would take it from the
    model: read from the answer without building the models it is proven to pass
    (`quiet.text_result`)."""

    content: list[dict[str, Any]]
    """`{"type": "text", "text": ...}` blocks, as the model dumps them."""
    structured: Any
    is_error: bool
    meta: dict[str, Any]


def tool_output(
    result: types.CallToolResult | TextResult | InputRequired, limit: int, scrub: Scrubber, name: str
) -> ToolOutput:
    if isinstance(result, InputRequired):
        return ToolOutput(content=[], input_required=result)
    if isinstance(result, TextResult):
        content, structured, is_error, meta = result.content, result.structured, result.is_error, result.meta
    else:
        content = [b.model_dump(by_alias=True, mode="json", exclude_none=True) for b in result.content]
        structured, is_error, meta = result.structured_content, bool(result.is_error), dict(result.meta or {})
    size = None if scrub else json_size(content)
    content_text: bytes | str | None = None
    if size is None:  # scrubbing reads the text; json_sized measures what json_size does not
        content_text, size = json_sized(content)
    structured_text = None
    if structured is not None:
        structured_text = json.dumps(structured, ensure_ascii=False)
        size += len(structured_text.encode())
    if size > limit:
        raise UpstreamBadResponse(
            f"upstream '{name}' sent more than the {size_text(limit)} response limit (max_response_bytes)"
        )
    if scrub:  # an upstream that echoes its credentials must not hand them on
        content = scrub.json(content, content_text)
        if structured is not None:
            structured = scrub.json(structured, structured_text)
    return ToolOutput(content=content, structured=structured, is_error=is_error, meta=meta)


def json_size(value: Any) -> int | None:
    """The UTF-8 size of `json.dumps(value, ensure_ascii=False)` without writing it, for a value
    of strings (counted natively: `_native.json_str_size`), lists, dicts with string keys, booleans and
    None, nested less than 64 deep; None for anything else (a number, a lone surrogate, whose
    text does not encode), which `json_sized` measures. A 5 MB text block's orjson text was
    written only to be measured: ~6 ms a call in the gateway, this ~0.5."""
    return _size(value, _DEPTH, _str_size())


_DEPTH = 64
_ATOMS = {True: 4, False: 5, None: 4}


def _size(value: Any, depth: int, str_size: Callable[[str], int | None]) -> int | None:
    kind = type(value)
    if kind is str:
        return str_size(value)
    if kind is dict or kind is list:
        if not value:
            return 2
        if depth == 0:
            return None
        size = 2 * len(value)  # the brackets, and ", " between items
        if kind is list:
            for item in value:
                if (inner := _size(item, depth - 1, str_size)) is None:
                    return None
                size += inner
            return size
        for key, item in value.items():
            if type(key) is not str or (named := str_size(key)) is None:
                return None
            if (inner := _size(item, depth - 1, str_size)) is None:
                return None
            size += named + 2 + inner  # ": "
        return size
    if kind is bool or value is None:
        return _ATOMS[value]
    return None


def reference_json_str_size(text: str) -> int | None:
    """`len(json.dumps(text, ensure_ascii=False).encode())`, or None when it does not encode."""
    try:
        return len(json.dumps(text, ensure_ascii=False).encode())
    except UnicodeEncodeError:
        return None


@cache
def _str_size() -> Callable[[str], int | None]:
    """The native count, imported on first use: the connectors need not load broker.pii (half a
    second) unless they measure a result, which the gateway, where it is loaded, does."""
    try:
        from broker.pii._native import json_str_size
    except ImportError:  # not built (no Rust toolchain or crates): the reference
        return reference_json_str_size
    return json_str_size


def json_sized(value: Any) -> tuple[bytes | str, int]:
    """A JSON value's text and the UTF-8 size of `json.dumps(value, ensure_ascii=False)`, the
    measure of the response limit, at a fifth of the cost (2 µs, not 11, for a 2 KB text block).

    The text is orjson's when it holds the same characters as json's bar the space json puts
    after each `,` and `:` (counted instead): orjson escapes what json escapes and writes
    numbers alike, except NaN and infinities (`null`), floats below 1e-4 (`1e-7`, `0.00005`),
    integers beyond 64 bits and lone surrogates (refused); a value with any of those is written
    by json. `value` holds only JSON types (a model dumped in JSON mode)."""
    spaces = _spaces(value)
    if spaces >= 0:
        try:
            fast = orjson.dumps(value)
        except TypeError:
            pass
        else:
            return fast, len(fast) + spaces
    text = json.dumps(value, ensure_ascii=False)
    return text, len(text.encode())


def _spaces(value: Any) -> int:
    """The spaces `json.dumps` writes after the separators of `value` (", " and ": "); -1 when
    `value` holds a float that orjson writes otherwise."""
    kind = type(value)
    if kind is dict or kind is list:
        items = value.values() if kind is dict else value
        count = (2 * len(value) - 1 if kind is dict else len(value) - 1) if value else 0
        for item in items:
            inner = _spaces(item)
            if inner < 0:
                return -1
            count += inner
        return count
    if kind is float and not (value == 0 or 1e-4 <= abs(value) < math.inf):  # NaN fails both
        return -1
    return 0
