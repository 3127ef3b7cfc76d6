"""The fast path's JSON (broker.mcp.wire.to_json): pydantic-core's bytes for plain values, and
what the SDK writes for the values where pydantic-core alone would write something else."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import json
import random
import struct
import uuid
from typing import Any

import pydantic_core
import pytest
from mcp_types.version import LATEST_PROTOCOL_VERSION

from broker.mcp import wire
from broker.mcp.server import to_result
from connectors.base import ToolOutput


def strict(data: bytes) -> Any:
    """JSON as a strict reader (JSON.parse) reads it: a bare NaN or Infinity is an error."""

    def refuse(constant: str) -> Any:
        raise ValueError(f"not JSON: {constant}")

    return json.loads(data, parse_constant=refuse)


def random_floats(count: int, rng: random.Random) -> list[float]:
    floats = []
    while len(floats) < count:
        value = struct.unpack("<d", rng.getrandbits(64).to_bytes(8, "little"))[0]
        if value == value and abs(value) != float("inf"):
            floats.append(value if rng.random() < 0.5 else round(value, rng.randint(0, 9)))
    return floats


def random_text(rng: random.Random) -> str:
    points = [
        rng.choice((rng.randint(0, 0x7F), rng.randint(0x80, 0xD7FF), rng.randint(0xE000, 0x10FFFF)))
        for _ in range(40)
    ]
    return "".join(map(chr, points))


class Colour(enum.Enum):
    RED = "red"


class Label(str):
    pass


@dataclasses.dataclass
class Point:
    x: int


def test_plain_values_are_written_byte_for_byte_as_pydantic_core_writes_them() -> None:
    rng = random.Random(20261207)
    values: list[Any] = [
        "".join(chr(point) for point in range(0x800)) + "\u2028\u2029\ufeff\uffff\U0001f600",
        [random_text(rng) for _ in range(200)],
        random_floats(20_000, rng),
        [0.0, -0.0, 1.0, 1e16, 1e-7, 5e-05, 5e-324, 1.7976931348623157e308, 0.1, 1 / 3],
        [0, -1, 2**63 - 1, -(2**63), 2**64 - 1, True, False, None],
        {"nested": [[], {}, [{}], {"k": [1, {"j": None}]}], "tuple": (1, "two"), "": ""},
        {"id": uuid.UUID(int=7), "colour": Colour.RED},
    ]
    for value in values:
        assert wire.to_json(value) == pydantic_core.to_json(value)


@pytest.mark.parametrize(
    "value",
    [
        2**64,
        -(2**70),
        {"when": dt.datetime(2026, 12, 7, 12, 30, tzinfo=dt.UTC)},
        [dt.date(2026, 12, 7), dt.time(8, 15)],
        Label("kept as text"),
        {"point": Point(3)},
        {1: "a key that is not text"},
        b"bytes",
    ],
)
def test_what_orjson_refuses_is_written_as_pydantic_core_writes_it(value: Any) -> None:
    assert wire.to_json(value) == pydantic_core.to_json(value)


def nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


def test_nesting_is_written_to_the_same_depth_and_refused_past_it() -> None:
    assert wire.to_json(nested(254)) == pydantic_core.to_json(nested(254))
    with pytest.raises(ValueError, match="depth"):
        wire.to_json(nested(255))


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_floats_are_null_as_the_sdk_writes_them(value: float) -> None:
    assert strict(wire.to_json({"x": value, "n": [value, 2**70]})) == {"x": None, "n": [None, 2**70]}


@pytest.mark.parametrize(
    "structured",
    [
        {"temperature": 21.5, "city": "Paris", "ok": True},
        {"reading": float("nan"), "peaks": [float("inf"), -1.5, float("-inf")], "count": 2**70},
        {"unicode": "é ß 漢字 🙂 \u2028", "empty": {}, "null": None},
    ],
)
def test_a_tool_result_is_the_json_the_sdk_writes(structured: dict[str, Any]) -> None:
    """The fast path's tools/call answer, read strictly, is the SDK path's: the result shaped by
    `ServerRunner._serialize` and written with `json.dumps` (mcp.server._streamable_http_modern)."""
    output = ToolOutput(
        content=[{"type": "text", "text": "see the structured content"}], structured=structured
    )
    stamp = {"name": "tool-broker", "version": "test"}
    fast = wire.result_response(7, wire.tool_result(output, LATEST_PROTOCOL_VERSION, stamp))
    shaped = wire.sdk_shaped("tools/call", LATEST_PROTOCOL_VERSION, to_result(output), stamp)
    sdk = json.dumps({"jsonrpc": "2.0", "id": 7, "result": shaped}, separators=(",", ":"))
    assert strict(fast) == strict(sdk.encode())
