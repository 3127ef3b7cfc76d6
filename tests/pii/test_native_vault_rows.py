"""The native flush rows of the SQL token vault (broker/pii/native/src/vault_rows.rs) are their
Python references' (broker/pii/sql_rows.py, broker/pii/sealing.py), on hostile text: NUL,
newlines, 2-, 3- and 4-byte UTF-8, lengths about BLAKE2b's block and AES-GCM's, and lone
surrogates. The native sealing is ring's AES-GCM, the reference cryptography's: the same bytes
for the same key and nonces, under random keys."""

from __future__ import annotations

import os
import random
from typing import Any

import pytest

from broker.pii.keys import sealed_name
from broker.pii.sealing import _VERSION, TokenSealer, reference_sealed_chunk, reference_sealed_rows, row_name
from broker.pii.sql_rows import (
    piece_at,
    reference_batch_rows,
    reference_chunk_body,
    reference_slot_parameters,
)
from broker.secrets.keys import generate_key
from tests.pii.test_native_keys import generated

_native = pytest.importorskip(
    "broker.pii._native", reason="broker.pii._native is not built (no Rust toolchain or crates): make native"
)

SEALER = TokenSealer([generate_key()])
KEY = SEALER._key


def batch_of(seed: int, count: int) -> dict[tuple[str, str], tuple[str, float]]:
    rng = random.Random(seed)
    agents, tokens = generated(seed, count)
    values, _ = generated(seed + 100, count)
    agents = [rng.choice(agents[:3]) for _ in agents]  # a few agents, as a flush has
    expiries = [1_800_000_000.0, 1_800_000_600.5, float(rng.randrange(10**9)), rng.random() * 2e9]
    batch = {
        (agent, token): (value, rng.choice(expiries))
        for agent, token, value in zip(agents, tokens, values, strict=True)
    }
    batch[agents[0], tokens[0] + "x"] = ("", expiries[0])  # an empty value
    return batch


@pytest.mark.parametrize("seed", range(6))
def test_batch_rows_sealed_rows_and_parameters_are_the_references(seed: int) -> None:
    batch = batch_of(seed, 300)
    keys, rows = _native.batch_rows(batch)
    assert (keys, rows) == reference_batch_rows(batch)
    assert keys == sorted(keys)

    for first in range(0, len(rows), 64):
        chunk, chunk_keys = rows[first : first + 64], keys[first : first + 64]
        nonces = os.urandom(12 * len(chunk))
        body, ats = _native.sealed_chunk(KEY, _VERSION, nonces, chunk)
        assert (body, ats) == reference_sealed_chunk(KEY, _VERSION, nonces, chunk)
        assert (body, ats) == reference_chunk_body(chunk, reference_sealed_rows(KEY, _VERSION, nonces, chunk))
        pieces = [piece_at(body, at) for at in ats]
        assert [piece[0] if piece else None for piece in pieces] == [t for _, t, _, _ in chunk]
        assert [
            SEALER.open(sealed_name(a, t), piece[1]) if piece else None
            for (a, t, _, _), piece in zip(chunk, pieces, strict=True)
        ] == [row[2] for row in chunk]
        assert all(row_name(a, t) == sealed_name(a, t) for a, t, _, _ in chunk)
        chunk_id = seed * 1_000_003 + first
        assert _native.slot_parameters(chunk_keys, chunk_id, ats, chunk) == reference_slot_parameters(
            chunk_keys, chunk_id, ats, chunk
        )


@pytest.mark.parametrize("seed", range(4))
def test_sealing_under_random_keys_is_cryptographys(seed: int) -> None:
    rng = random.Random(seed)
    sealer = TokenSealer([generate_key()])  # a key derived as the vaults derive theirs
    values, _ = generated(seed + 200, 40)
    values += [
        "",
        "é€\u0661\U0001d7ce\x00\n",
        *("x" * size for size in (1, 15, 16, 17, 31, 32, 33, 63, 64, 65, 255, 256, 4096)),
        "".join(rng.choice("aé€\U0001d7ce") for _ in range(100_000)),  # long: ~300 KB
    ]
    rows = [
        (f"agent-{rng.randrange(3)}", f"<TOKEN_{at:08x}>é", value, 0.0) for at, value in enumerate(values)
    ]
    for key in (sealer._key, rng.randbytes(32), bytes(32), b"\xff" * 32):
        nonces = rng.randbytes(12 * len(rows))
        body, ats = _native.sealed_chunk(key, _VERSION, nonces, rows)
        assert (body, ats) == reference_sealed_chunk(key, _VERSION, nonces, rows)
    body, ats = _native.sealed_chunk(sealer._key, _VERSION, nonces, rows)
    pieces = [piece_at(body, at) for at in ats]
    assert [
        sealer.open(sealed_name(a, t), piece[1]) if piece else None
        for (a, t, _, _), piece in zip(rows, pieces, strict=True)
    ] == values
    assert (
        _native.sealed_chunk(sealer._key, _VERSION, b"", [])
        == reference_sealed_chunk(sealer._key, _VERSION, b"", [])
        == (b"", [])
    )


def test_a_key_not_of_32_bytes_raises() -> None:
    for seal in (_native.sealed_chunk, reference_sealed_chunk):
        for key in (b"", b"k" * 16, b"k" * 31, b"k" * 33):
            with pytest.raises(ValueError, match="32 bytes"):
                seal(key, _VERSION, os.urandom(12), [("a", "t", "v", 0.0)])


@pytest.mark.parametrize(
    "expires",
    [
        0.0,
        -1.5,
        1e-7,
        1.6e-6,
        -0.7e-6,
        1_800_000_000.0000007,
        1_800_000_000.123456,
        2.5e12,
        1e13 + 0.5,
        3,
        1e300,
    ],
)
def test_expiries_in_microseconds_are_the_references(expires: float) -> None:
    rows: list[Any] = [("a", "t", "v", expires), ("a", "u", "v", expires)]
    assert _native.slot_parameters([1, 2], 9, [0, 7], rows) == reference_slot_parameters(
        [1, 2], 9, [0, 7], rows
    )


def test_a_piece_out_of_place_reads_as_nothing() -> None:
    body, ats = reference_chunk_body([("a", "tok", "v", 0.0), ("a", "én", "v", 0.0)], [b"sealed", b""])
    assert piece_at(body, ats[1]) == ("én", b"")
    assert [piece_at(body, at) for at in (-1, 1, len(body), len(body) - 3)] == [None] * 4


def test_sealing_a_batch_opens_with_each_name_only() -> None:
    rows = [("agent-1", "<EMAIL_ADDRESS_0000aaaa>", "bob@example.com", 0.0)] * 2
    body, ats = SEALER.seal_chunk(rows)
    first, second = (piece[1] for piece in (piece_at(body, at) for at in ats) if piece)
    assert first != second  # a nonce each
    assert SEALER.open(sealed_name("agent-1", "<EMAIL_ADDRESS_0000aaaa>"), first) == "bob@example.com"
    with pytest.raises(Exception, match="does not open"):
        SEALER.open(sealed_name("agent-2", "<EMAIL_ADDRESS_0000aaaa>"), first)


@pytest.mark.parametrize("surrogates", ["bad\ud800", "\ud83d\ude00", "é\udfff", "\udbff" * 40])
def test_a_value_with_lone_surrogates_seals_alike_and_opens_as_it_was(surrogates: str) -> None:
    """A value holding JSON's "\\ud800" (any upstream can send one) is sealed, as "surrogatepass"
    writes it, by both, and opens to the same str."""
    rows: list[Any] = [
        ("agent-1", "<PII_0000aaaa>", surrogates, 0.0),
        ("agent-1", "<PII_0000aaab>", "ok", 0.0),
    ]
    nonces = os.urandom(24)
    body, ats = _native.sealed_chunk(KEY, _VERSION, nonces, rows)
    assert (body, ats) == reference_sealed_chunk(KEY, _VERSION, nonces, rows)
    piece = piece_at(body, ats[0])
    assert piece is not None
    token, sealed = piece
    assert SEALER.open(sealed_name("agent-1", token), sealed) == surrogates


@pytest.mark.parametrize("surrogates", ["bad\ud800", "\ud83d\ude00", "é\udfff"])
@pytest.mark.parametrize("where", range(2))
def test_a_lone_surrogate_in_an_agent_or_token_raises_as_in_python(where: int, surrogates: str) -> None:
    row = ["agent-1", "<EMAIL_ADDRESS_0000aaaa>", "bob@example.com", 0.0]
    row[where] = surrogates
    rows: list[Any] = [tuple(row)]
    for seal in (_native.sealed_chunk, reference_sealed_chunk):
        with pytest.raises(UnicodeEncodeError):
            seal(KEY, _VERSION, os.urandom(12), rows)
    batch: Any = {(row[0], row[1]): (row[2], row[3])}
    for order in (_native.batch_rows, reference_batch_rows):
        with pytest.raises(UnicodeEncodeError):
            order(batch)


def test_wrong_shapes_raise() -> None:
    for seal in (_native.sealed_chunk, reference_sealed_chunk):
        with pytest.raises(ValueError, match="nonce"):
            seal(KEY, _VERSION, b"short", [("a", "t", "v", 0.0)])
        with pytest.raises(ValueError, match="too long"):
            seal(KEY, _VERSION, os.urandom(12), [("a", "t" * 70_000, "v", 0.0)])
    with pytest.raises(TypeError):
        _native.sealed_chunk(KEY, _VERSION, os.urandom(12), [("a", "t")])
    with pytest.raises(TypeError):
        _native.batch_rows({("a", "t", "x"): ("v", 0.0)})
    with pytest.raises(ValueError, match="a sealed value a row"):
        reference_chunk_body([("a", "t", "v", 0.0)], [])
    for slots in (_native.slot_parameters, reference_slot_parameters):
        with pytest.raises(ValueError, match="a key and an offset"):
            slots([1], 1, [], [("a", "t", "v", 0.0)])
        with pytest.raises(ValueError):
            slots([1], 1, [0], [("a", "t", "v", float("nan"))])
    with pytest.raises(TypeError):
        _native.slot_parameters([1], 1, [0], [("a", "t")])
