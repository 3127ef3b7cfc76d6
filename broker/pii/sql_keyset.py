"""The slot keys the SQL token vault's table holds, in memory (SQLite writing behind).

A claim asks whether each proposed token is stored; nearly all of a big result's are new, and
the SELECT that found none of them was most of the claim's cost (~14 ms of CPU per MB of result,
23,000 new tokens over 200,000 stored). Writing behind on SQLite, this vault is the table's only
writer (one instance by design; migrations run before it starts), so it can know every key there:
loaded once when it starts, added to by each flush before it commits, taken from by each purge
after it commits (both under the writer's lock). The record may hold a key the table does not (a
flush that failed, a row purged): that costs the SELECT of today, never a wrong answer; it never
lacks one the table holds. A token whose key is not in it is not stored: no SELECT.

The native set (broker/pii/native/src/keyset.rs) holds 1,000,000 keys in ~19 MB; this reference,
a Python set of ints, in ~80 MB.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from broker.pii.sql_keys import token_keys

__all__ = ["KeySet", "ReferenceKeySet", "new_key_set"]


class KeySet(Protocol):
    def add(self, keys: list[int], /) -> None: ...
    def discard(self, keys: list[int], /) -> None: ...
    def held(self, agent: str, tokens: list[str], /) -> list[int]: ...
    def __contains__(self, key: int, /) -> bool: ...
    def __len__(self) -> int: ...


class ReferenceKeySet:
    """Row keys (`token_key`, broker/pii/sql_keys.py) in a Python set."""

    def __init__(self) -> None:
        self._keys: set[int] = set()

    def add(self, keys: Sequence[int], /) -> None:
        self._keys.update(keys)

    def discard(self, keys: Sequence[int], /) -> None:
        self._keys.difference_update(keys)

    def held(self, agent: str, tokens: list[str], /) -> list[int]:
        """The positions in `tokens` whose key with `agent` is held, in order."""
        keys = self._keys
        return [at for at, key in enumerate(token_keys([agent] * len(tokens), tokens)) if key in keys]

    def __contains__(self, key: int, /) -> bool:
        return key in self._keys

    def __len__(self) -> int:
        return len(self._keys)


def new_key_set() -> KeySet:
    """The native set when built, else the reference."""
    try:
        from broker.pii._native import KeySet as NativeKeySet
    except ImportError:
        return ReferenceKeySet()
    return NativeKeySet()
