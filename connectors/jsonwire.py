"""Upstream JSON read and written exactly as `json` would, with orjson's speed where it agrees.

Connectors turn upstream bodies into values and values into result text on every call; `json`
is the reference (what agents, caches and masking have always seen), orjson the fast path,
taken only where its answer is provably the same.
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

_JSON_TYPES_ONLY = (
    orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_SUBCLASS
)
"""What `json` cannot write, orjson refuses too (the TypeError sends it to `json`)."""


def compact_json(value: Any) -> str:
    """`json.dumps(value, ensure_ascii=False, separators=(",", ":"))`, the same text ~9 times faster.

    orjson writes what `json` writes except: NaN and infinities (as null), floats below 1e-4
    (`1e-7` and `0.00005` where `json` has `1e-07` and `5e-05`), integers beyond 64 bits and
    lone surrogates (it refuses both). Output without `null`, `e-` or `0.0000` holds none of
    the first two; for the rare value that does, `json` writes it."""
    try:
        fast = orjson.dumps(value, option=_JSON_TYPES_ONLY)
    except TypeError:
        fast = None
    # (`find`, not `in`: on 3.11 `bytes in bytes` first tries the needle as an int, raising and
    # dropping a TypeError with its message each time, ~0.15 us)
    if fast is not None and fast.find(b"null") < 0 and fast.find(b"e-") < 0 and fast.find(b"0.0000") < 0:
        return fast.decode()
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


_FOLD = bytes.maketrans(b"123456789 \t\n\r:,[-", b"000000000!!!!!!!!")
_LONG_NUMBER = b"!" + b"0" * 19
"""With `_FOLD`: 19 digits where a number may start (after whitespace, ':', ',', '[' or '-'),
so maybe an integer beyond 64 bits (orjson reads it as a float, `json` exactly). Digits in
strings rarely follow these (an IBAN or an id does not): few bodies go to `json` for nothing."""
_SHALLOW_BYTES = 1800
"""A body this short cannot nest 900 deep (each level takes two brackets)."""
_FAST_PARSE_BYTES = 256 * 1024
"""Past this, orjson's lead shrinks (allocation dominates) and the checks cost more: `json` reads it."""


def parse_json(body: bytes) -> Any:
    """`json.loads(body)`: the same value, or the same error, 2-3 times faster up to 256 KiB.

    orjson refuses what `json` reads leniently (NaN, infinities, numbers past the float range, a
    byte order mark, UTF-16 or UTF-32, lone surrogates): such a body goes to `json` (lone
    surrogates then become U+FFFD: see `_lenient`). Where both
    read a body they read it alike but for integers beyond 64 bits (orjson makes them floats:
    see `_LONG_NUMBER`) and nesting between `json`'s recursion limit (~1000 frames less the
    stack in use) and orjson's 1024: a body that could nest that deep is kept only if orjson
    writes the value back, which it refuses past 254 levels."""
    if len(body) > _FAST_PARSE_BYTES or (b"!" + body.translate(_FOLD)).find(_LONG_NUMBER) >= 0:
        return _lenient(body)
    try:
        value = orjson.loads(body)
        if len(body) >= _SHALLOW_BYTES:
            orjson.dumps(value)  # the nesting check: JSONEncodeError past 254 levels
    except (orjson.JSONDecodeError, orjson.JSONEncodeError):
        return _lenient(body)
    return value


_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _lenient(body: bytes) -> Any:
    """`json.loads(body)`, with every lone surrogate it made (from an escape such as "\\ud800"
    with no pair) replaced by U+FFFD. A lone surrogate has no UTF-8: the gateway could not write
    the result to its client (the call failed with an internal error), and JSON parsers such as
    pydantic's and orjson, the Python MCP SDK's included, refuse even its escaped form."""
    value = json.loads(body)
    return _without_lone_surrogates(value) if _SURROGATE_ESCAPE.search(body) else value


def _without_lone_surrogates(value: Any) -> Any:
    """`value` (as `json.loads` makes it, changed in place) with U+FFFD for each lone surrogate in
    its strings and keys. Iterative: it goes as deep as `json` nests."""
    if isinstance(value, str):
        return _LONE_SURROGATE.sub("\ufffd", value)
    pending = [value]
    while pending:
        container = pending.pop()
        if isinstance(container, list):
            for at, item in enumerate(container):
                if isinstance(item, str):
                    container[at] = _LONE_SURROGATE.sub("\ufffd", item)
                elif isinstance(item, (list, dict)):
                    pending.append(item)
        elif isinstance(container, dict):
            items = [(_LONE_SURROGATE.sub("\ufffd", key), item) for key, item in container.items()]
            container.clear()
            for key, item in items:
                if isinstance(item, str):
                    item = _LONE_SURROGATE.sub("\ufffd", item)
                elif isinstance(item, (list, dict)):
                    pending.append(item)
                container[key] = item
    return value
