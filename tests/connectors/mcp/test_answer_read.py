"""An upstream's answer read by orjson where that gives what pydantic-core gives (connectors/mcp/answers.py):
the same values of the same types, integers past 64 bits included, and the same refusals."""

from __future__ import annotations

import json
import random
import struct
from typing import Any

import pydantic_core
import pytest

from connectors.mcp import answers

_native = pytest.importorskip(
    "broker.pii._native", reason="broker.pii._native is not built (no Rust toolchain or crates): make native"
)


def test_digit_runs_are_found_as_the_reference_finds_them() -> None:
    """Runs of digits of every length around the bound, at every offset of bytes and of strs of each
    storage width, with other characters (non-ASCII digits among them) around."""
    rng = random.Random(5)
    around = ["a", " ", "-", ".", "/", ":", "é", "€", "\U0001f600", "\u0663", "0", "9"]
    for _ in range(4000):
        parts = [rng.choice(around) for _ in range(rng.randint(0, 30))]
        for _ in range(rng.randint(0, 3)):
            parts.insert(
                rng.randint(0, len(parts)),
                "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 40))),
            )
        text = "".join(parts)
        length = rng.choice([0, 1, 8, 15, 16, 18, 19, 20, 24])
        for form in (text, text.encode("utf-8", "surrogatepass")):
            assert _native.digit_run(form, length) == answers.reference_digit_run(form, length), (
                form,
                length,
            )
    assert _native.digit_run("1" * 19, 19) and not _native.digit_run("1" * 18 + "x" + "1" * 18, 19)
    with pytest.raises(TypeError):
        _native.digit_run(19, 19)  # type: ignore[arg-type]


def value(rng: random.Random, depth: int = 0) -> Any:
    roll = rng.random()
    if depth < 3 and roll < 0.2:
        return {f"k{rng.randint(0, 5)}": value(rng, depth + 1) for _ in range(rng.randint(0, 4))}
    if depth < 3 and roll < 0.35:
        return [value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    if roll < 0.5:
        return rng.choice(
            [2**63 - 1, 2**63, -(2**63), -(2**63) - 1, 2**64 - 1, 2**64, 10**30, -(10**19), 7, 0]
        )
    if roll < 0.65:
        return struct.unpack("d", rng.randbytes(8))[0]
    if roll < 0.75:
        return rng.random() * 10 ** rng.randint(-30, 30)
    if roll < 0.9:
        return rng.choice(["plain", "id 12345678901234567890", "é\u0000\ud7ff", "1" * 18, ""])
    return rng.choice([True, False, None])


def test_an_answer_is_read_as_pydantic_core_reads_it() -> None:
    """Generated JSON (integers at and past 64 bits, every double, overflowing literals, long digit
    runs in strings): the same values, types included (repr tells 1 from 1.0), or both refused."""
    rng = random.Random(11)
    read_by_orjson = 0
    for _ in range(3000):
        text = json.dumps(value(rng), allow_nan=True)
        if rng.random() < 0.1:
            text = f"[{text}, {rng.choice(['1e400', '-1e999', '1' * 25, 'NaN', '01'])}]"
        expected: Any
        try:
            expected = repr(pydantic_core.from_json(text, allow_inf_nan=False))
        except ValueError:
            expected = ValueError
        try:
            got: Any = repr(answers._read(text.encode() if rng.random() < 0.5 else text))
        except ValueError:
            got = ValueError
        assert got == expected, text
        read_by_orjson += not _native.digit_run(text, 19)
    assert read_by_orjson > 1000  # (most went the fast way)
