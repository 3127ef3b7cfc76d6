"""The response limit measures a result as `json.dumps(value, ensure_ascii=False)` writes it
(connectors/mcp/results.py), whichever encoder writes the text."""

from __future__ import annotations

import json
from typing import Any

import mcp_types as types
import pytest

from connectors.errors import UpstreamBadResponse
from connectors.mcp.results import json_size, json_sized, tool_output
from connectors.scrub import NO_SCRUB, scrubber

VALUES: list[Any] = [
    [],
    {},
    [{"type": "text", "text": '{"a": [1, 2.5, "x"], "b": null}'}],
    [{"type": "text", "text": "é ß 漢字 🙂 \u2028 \x7f", "annotations": {"priority": 0.5, "audience": []}}],
    [{"type": "text", "text": 'quote " backslash \\ tab \t newline \n bell \x07 \x1f'}],
    {"nested": [[], {}, [{}], {"k": [1, {"j": None}]}], "flag": True, "off": False, "none": None},
    {"small": 1e-7, "tiny": 0.00005, "edge": 0.0001, "big": 1e16, "huge": 1.5e300, "neg": -0.0},
    {"nan": float("nan"), "inf": float("inf"), "minus": float("-inf")},
    {"int": 2**63 - 1, "past64": 2**64, "negative": -(2**70)},
    [1.0, 0.1, 1 / 3, 123456789.123, 5e-324, -1e-5],
]


@pytest.mark.parametrize("value", VALUES)
def test_the_size_is_json_s(value: Any) -> None:
    text, size = json_sized(value)

    expected = json.dumps(value, ensure_ascii=False)
    assert size == len(expected.encode())
    if isinstance(text, bytes):  # orjson's compact text: the same characters bar the spaces
        assert text.decode() == json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    else:
        assert text == expected


TEXTUAL: list[Any] = [
    *VALUES[:3],
    VALUES[4],
    {"é": "漢", "\u2028": ["\x00", "\x7f", "\x80", "\x9f", "\ud7ff", "\ue000", "\U0010ffff"]},
    [{"type": "text", "text": "x" * 100_000 + '"\\\n\x01' * 1000 + "ß漢🙂" * 1000}],
    [[[[[[]]]]]],
    {"": "", "t": True, "f": False, "n": None, "l": [True, [False, [None]]]},
]


@pytest.mark.parametrize("value", TEXTUAL)
def test_a_value_of_strings_is_measured_without_its_text(value: Any) -> None:
    assert json_size(value) == len(json.dumps(value, ensure_ascii=False).encode())


@pytest.mark.parametrize(
    "value",
    [
        [{"type": "text", "text": "lone \ud800 surrogate"}],
        {"key \udfff": "x"},
        {"n": 1},
        [0.5],
        {1: "a number key"},
        json.loads("[" * 70 + "]" * 70),  # deeper than json_size goes
    ],
)
def test_anything_else_is_left_to_json_sized(value: Any) -> None:
    assert json_size(value) is None


def test_a_lone_surrogate_fails_as_before() -> None:
    with pytest.raises(UnicodeEncodeError):
        tool_output(result("lone \ud800 surrogate"), 1024, NO_SCRUB, "up")


def result(text: str) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(type="text", text=text)])


@pytest.mark.parametrize("text", ["a, b: c" * 20, 'é "漢" \\ \n \x01 🙂' * 20])
def test_a_result_of_exactly_the_limit_passes(text: str) -> None:
    block = [{"type": "text", "text": text}]
    limit = len(json.dumps(block, ensure_ascii=False).encode())

    assert tool_output(result(block[0]["text"]), limit, NO_SCRUB, "up").content == block
    with pytest.raises(UpstreamBadResponse, match="response limit"):
        tool_output(result(block[0]["text"]), limit - 1, NO_SCRUB, "up")


def test_echoed_secrets_are_blanked() -> None:
    output = tool_output(result('token "s3cr3t-value" echoed'), 1024, scrubber("s3cr3t-value"), "up")

    assert "s3cr3t-value" not in json.dumps(output.content)
