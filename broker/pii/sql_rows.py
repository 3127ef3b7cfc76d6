"""The SQL token vault's layout and flush, row by row: these are the references of the native
functions (broker/pii/native/src/vault_rows.rs), and what runs when those are not built (the
sealing's is `broker.pii.sealing.reference_sealed_rows`).

One write stores each agent's tokens, up to `CHUNK` at a time, as one chunk (`pii_token_chunks`,
migration 0017): its body is a piece per token,

    token length (2 bytes, little-endian) | token (UTF-8) | sealed length (4 bytes) | sealed value

the value sealed on its own with its agent and token (broker/pii/sealing.py), as a row of the
table before held it: no piece opens as another agent's or token's. Each token gets a slot
(`pii_token_slots`): its key (broker/pii/sql_keys.py), chunk, the piece's offset there and its
expiry in microseconds. A slot is ~25 bytes where a row was ~150 (agent, token, sealed value and
expiry as text), and the pieces go in a few appended rows.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from broker.pii.sql_keys import token_key_order

__all__ = [
    "CHUNK",
    "Row",
    "batch_rows",
    "micros",
    "piece_at",
    "reference_batch_rows",
    "reference_chunk_body",
    "reference_slot_parameters",
    "slot_parameters",
]

Row = tuple[str, str, str, float]
"""agent, token, value, expires (epoch seconds)."""

CHUNK = 250
"""Tokens a chunk holds at most. A read of a token loads its chunk's whole body (SQLite reads a
value's overflow pages all, substr() too): ~20 KB here. Chunks of 1,000 (~80 KB) made a lookup
of 1,000 random tokens over 207,000 cost 21 µs a token, against 8.3 for rows of their own; a
statement of slots still writes four chunks' (`Driver.ROWS`)."""


def micros(epoch: float) -> int:
    """An expiry as stored: whole microseconds since the epoch, rounded down."""
    return math.floor(epoch * 1_000_000)


def reference_batch_rows(batch: Mapping[tuple[str, str], tuple[str, float]]) -> tuple[list[int], list[Row]]:
    """The (agent, token) -> (value, expires) of `batch` as rows in the order of their keys
    (broker/pii/sql_keys.py; equal keys as in `batch`), and those keys."""
    rows = [(agent, token, value, expires) for (agent, token), (value, expires) in batch.items()]
    keys, order = token_key_order([row[0] for row in rows], [row[1] for row in rows])
    return keys, [rows[at] for at in order]


def reference_chunk_body(rows: list[Row], sealed: list[bytes]) -> tuple[bytes, list[int]]:
    """The body of a chunk holding each row's token and its `sealed` value, and the offset of
    each row's piece in it."""
    if len(rows) != len(sealed):
        raise ValueError("a sealed value a row is needed")
    parts: list[bytes] = []
    ats: list[int] = []
    at = 0
    for (_, token, _, _), value in zip(rows, sealed, strict=True):
        name = token.encode()
        if len(name) > 0xFFFF or len(value) > 0xFFFFFFFF:
            raise ValueError("a token or sealed value too long for a chunk")
        piece = len(name).to_bytes(2, "little") + name + len(value).to_bytes(4, "little") + value
        ats.append(at)
        parts.append(piece)
        at += len(piece)
    return b"".join(parts), ats


def reference_slot_parameters(keys: list[int], chunk: int, ats: list[int], rows: list[Row]) -> list[int]:
    """(key, chunk, offset, micros(expires)) of each row, in one list: an INSERT's."""
    if not len(keys) == len(ats) == len(rows):
        raise ValueError("a key and an offset a row are needed")
    parameters: list[int] = []
    for key, at, row in zip(keys, ats, rows, strict=True):
        parameters += (key, chunk, at, micros(row[3]))
    return parameters


def piece_at(body: bytes, at: int) -> tuple[str, bytes] | None:
    """The token and sealed value of the piece at `at` in a chunk's `body`; None where there is
    none (a slot pointing elsewhere than a piece's start reads as nothing rather than as garbage:
    the sealed value then would not open)."""
    if at < 0 or at + 6 > len(body):
        return None
    size = int.from_bytes(body[at : at + 2], "little")
    end = at + 2 + size
    if end + 4 > len(body):
        return None
    length = int.from_bytes(body[end : end + 4], "little")
    if end + 4 + length > len(body):
        return None
    try:
        token = body[at + 2 : end].decode()
    except UnicodeDecodeError:
        return None
    return token, body[end + 4 : end + 4 + length]


try:
    from broker.pii._native import batch_rows, slot_parameters
except ImportError:  # not built
    batch_rows = reference_batch_rows
    slot_parameters = reference_slot_parameters
