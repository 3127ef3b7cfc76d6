"""The native count of a str's JSON size (broker/pii/native/src/jsonsize.rs) is exactly its
Python reference, `len(json.dumps(text, ensure_ascii=False).encode())` (None where that encode
fails), on generated text of every storage width: each character below 0x20, the escaped ones,
the edges of UTF-8's lengths and of the surrogates, long runs (the native loop counts in blocks
of lanes: lengths around those blocks, a lane's total near its limit of 255)."""

from __future__ import annotations

import random

import pytest

from connectors.mcp.results import reference_json_str_size

_native = pytest.importorskip(
    "broker.pii._native", reason="broker.pii._native is not built (no Rust toolchain or crates): make native"
)

EDGES = [
    *map(chr, range(0x00, 0x21)),
    '"',
    "\\",
    "/",
    "a",
    "\x7f",
    "\x80",
    "\x9f",
    "\xa0",
    "\xff",
    "\u0100",
    "\u07ff",
    "\u0800",
    "\u2028",
    "\ud7ff",
    "\ue000",
    "\uffff",
    "\U00010000",
    "\U0001f642",
    "\U0010ffff",
]
SURROGATES = ["\ud800", "\udbff", "\udc00", "\udfff"]


def generated(rng: random.Random, alphabet: list[str]) -> str:
    lengths = [0, 1, 7, 15, 16, 17, 31, 32, 33, 1631, 1632, 1633, 3264, 5000, rng.randrange(20_000)]
    length = rng.choice(lengths)
    return "".join(rng.choice(alphabet) for _ in range(length))


@pytest.mark.parametrize("seed", range(40))
def test_generated_text_counts_as_json_writes_it(seed: int) -> None:
    rng = random.Random(seed)
    narrow = [c for c in EDGES if ord(c) < 0x100]
    for alphabet in (narrow[:40], narrow, EDGES, EDGES + SURROGATES):
        text = generated(rng, alphabet)
        assert _native.json_str_size(text) == reference_json_str_size(text), repr(text[:80])


@pytest.mark.parametrize(
    "text",
    [
        "",
        "\x01" * 100_000,  # 5 extra a byte: every u8 lane at its fullest
        "\x01" * 1632 * 3 + '"',
        "é" * 70_000,
        "漢" * 50_000 + "\x00",
        "🙂" * 30_000 + "\n",
        "x" * 50_000 + "\ud800",  # a lone surrogate at the end: after every full round
        "\udfff" + "x" * 50_000,
        "\ud83d\ude42",  # a pair as two characters: still no UTF-8
    ],
)
def test_hostile_text(text: str) -> None:
    assert _native.json_str_size(text) == reference_json_str_size(text)
