"""Upstream JSON read and written as `json` would (connectors/jsonwire.py)."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from connectors.jsonwire import compact_json, parse_json


def outcome(read: Any, body: bytes) -> tuple[str, str, str]:
    """What reading `body` gives: the value's repr and every type in it, or the kind of error."""
    try:
        value = read(body)
    except RecursionError:
        return ("too deep", "", "")
    except ValueError:
        return ("error", "", "")
    try:
        return ("value", repr(value), repr(types(value)))
    except RecursionError:  # read, but too deep to look into here
        return ("value", "deep", "")


def types(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: types(item) for key, item in value.items()}
    if isinstance(value, list):
        return [types(item) for item in value]
    return type(value).__name__


BODIES = [
    b'{"city":"Paris","lat":48.8566,"n":45,"ok":true,"none":null,"list":[1,2.5,"x"]}',
    b'{"big":123456789012345678901234567890,"neg":-9223372036854775809}',  # beyond 64 bits
    b"[18446744073709551615,-9223372036854775808,12345678901234567890.5]",
    b'{"iban":"FR9684308860915248705331812","at":"x:1234567890123456789012"}',
    b"[NaN,Infinity,-Infinity,1e400]",
    b'\xef\xbb\xbf{"bom":1}',
    '{"utf16":"é"}'.encode("utf-16"),
    b'"\xed\xa0\x80"',
    b'{"a":1,"a":2}',
    b"[1,]",
    b"\xff",
    b" -0 ",
    b'"\\u00e9\\ud83d\\ude00 \\u2028"',
    b"[" * 300 + b"]" * 300,
    b'{"a":' * 600 + b"1" + b"}" * 600,
    b"[" * 1000 + b"]" * 1000,  # past json's recursion limit wherever it is called, not orjson's
    b"[" * 1030 + b"]" * 1030,
]


@pytest.mark.parametrize("body", BODIES, ids=range(len(BODIES)))
def test_parse_json_reads_what_json_reads(body: bytes) -> None:
    assert outcome(parse_json, body) == outcome(json.loads, body)


@pytest.mark.parametrize("big", [False, True], ids=["orjson first", "json"])
def test_parse_json_reads_a_lone_surrogate_as_a_replacement_character(big: bool) -> None:
    """What `json` makes of "\\ud800" has no UTF-8: no answer holding it could be written."""
    body = (
        b'{"k\\udfff":["\\ud800",{"x":"a\\uDBFFb"}],"pair":"\\ud83d\\ude00"'
        + (b" " * 300_000 if big else b"")
        + b"}"
    )
    assert parse_json(body) == {"k\ufffd": ["\ufffd", {"x": "a\ufffdb"}], "pair": "\U0001f600"}
    assert parse_json(b'"\\ud800"') == "\ufffd"


@pytest.mark.parametrize(
    "value",
    [
        {"a": [1, 2.5, "é", None, True]},
        [1e22, 1e-7, 5e-05, 0.0001, -0.0, 2**70, "\ud800"],
        {"x": math.nan, "y": math.inf},
    ],
)
def test_compact_json_writes_what_json_writes(value: Any) -> None:
    assert compact_json(value) == json.dumps(value, ensure_ascii=False, separators=(",", ":"))
