"""The SQL token vault's flush, row by row: these are the references of the native functions
(broker/pii/native/src/vault_rows.rs), and what runs when those are not built (the sealing's is
`broker.pii.sealing.reference_sealed_rows`).

A flush of a 5 MB result's 23,000 tokens over 200,000 stored cost ~25 ms of CPU per MB of
result; ~9 of those were these loops in Python (a row tuple made, unpacked and named several
times each), ~7 the sealing (AES-GCM, ~0.85 µs a value in cryptography itself), the rest
SQLite's. Natively the loops cost ~1.5 and the sealing ~5.5 (the same `encrypt` calls, each
value's bytes made once).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from broker.pii.sql_keys import token_key_order

__all__ = [
    "Row",
    "batch_rows",
    "reference_batch_rows",
    "reference_row_parameters",
    "row_parameters",
]

Row = tuple[str, str, str, float]
"""agent, token, value, expires (epoch seconds)."""


def reference_batch_rows(batch: Mapping[tuple[str, str], tuple[str, float]]) -> tuple[list[int], list[Row]]:
    """The (agent, token) -> (value, expires) of `batch` as rows in the order of their keys
    (broker/pii/sql_keys.py; equal keys as in `batch`), and those keys."""
    rows = [(agent, token, value, expires) for (agent, token), (value, expires) in batch.items()]
    keys, order = token_key_order([row[0] for row in rows], [row[1] for row in rows])
    return keys, [rows[at] for at in order]


def reference_row_parameters(
    rows: list[Row], keys: list[int], sealed: list[bytes], stamp: Callable[[float], Any]
) -> list[Any]:
    """(key, agent, token, sealed value, stamp(expires)) of each row, in one list: an INSERT's."""
    if not len(rows) == len(keys) == len(sealed):
        raise ValueError("a key and a sealed value a row are needed")
    parameters: list[Any] = []
    for (agent, token, _, expires), key, ciphertext in zip(rows, keys, sealed, strict=True):
        parameters += (key, agent, token, ciphertext, stamp(expires))
    return parameters


try:
    from broker.pii._native import batch_rows, row_parameters
except ImportError:  # not built
    batch_rows = reference_batch_rows
    row_parameters = reference_row_parameters
