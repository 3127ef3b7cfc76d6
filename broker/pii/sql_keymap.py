"""Where the SQLite token vault's places are, in memory (writing behind): each row key to its place.

Writing behind on SQLite, the vault is its tables' only writer (one instance by design;
migrations run before it starts), so it can know every key its places table holds and the place
holding it: loaded once before it reads or writes, added to by each flush once committed, taken
from by each purge once committed (both under the writer's lock). With that map the table needs no
index on the key: a flush appends its places in id order, where inserts under random keys dirtied
a page of the key's B-tree each until they dirtied nearly all of them (the flush's cost grew with
the vault: 30 ms per MB of results over 400,000 tokens, ~18 appending; bench/vault_stage.py).
A token whose key is not in the map is not stored: no SELECT. The map may name a place that
holds another pair's piece by now (read between a purge and its discard): the lookup opens the
piece and checks its agent and token, as every lookup does.

The native map (broker/pii/native/src/keymap.rs) holds 1,000,000 keys in ~50 MB resident; this
reference, a Python dict of ints, in ~120 MB.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, TypeAlias

from broker.pii.sql_keys import token_keys

if TYPE_CHECKING:
    from broker.pii._native import KeyMap as NativeKeyMap

__all__ = ["KeyMap", "ReferenceKeyMap", "new_key_map"]


class ReferenceKeyMap:
    """Row keys (`token_key`, broker/pii/sql_keys.py) to place ids, in a Python dict."""

    def __init__(self) -> None:
        self._ids: dict[int, int] = {}

    def add(self, keys: Sequence[int], ids: Sequence[int], /) -> None:
        """Record each of `keys` as held by the place of the same position in `ids`."""
        if len(keys) != len(ids):
            raise ValueError("an id a key is needed")
        self._ids.update(zip(keys, ids, strict=True))

    def add_run(self, keys: Sequence[int], first: int, /) -> None:
        """Record `keys` as held by consecutive places from `first` on (a flush's, appended)."""
        self._ids.update(zip(keys, range(first, first + len(keys)), strict=True))

    def discard(self, keys: Sequence[int], ids: Sequence[int], /) -> None:
        """Forget each of `keys` that the place of the same position in `ids` still holds."""
        if len(keys) != len(ids):
            raise ValueError("an id a key is needed")
        for key, place in zip(keys, ids, strict=True):
            if self._ids.get(key) == place:
                del self._ids[key]

    def placed(self, agent: str, tokens: list[str], /) -> tuple[list[int], list[int]]:
        """The positions in `tokens` whose key with `agent` is held, in order, and their places."""
        positions: list[int] = []
        ids: list[int] = []
        for at, key in enumerate(token_keys([agent] * len(tokens), tokens)):
            place = self._ids.get(key)
            if place is not None:
                positions.append(at)
                ids.append(place)
        return positions, ids

    def split(self, keys: list[int], /) -> tuple[list[int], list[int], list[int], list[int]]:
        """A batch's `keys` sorted out: the positions of those not held (each key's first), those
        held and their places, and those of keys seen earlier in the batch."""
        new: list[int] = []
        held: list[int] = []
        ids: list[int] = []
        repeated: list[int] = []
        seen: set[int] = set()
        for at, key in enumerate(keys):
            if key in seen:
                repeated.append(at)
                continue
            seen.add(key)
            place = self._ids.get(key)
            if place is None:
                new.append(at)
            else:
                held.append(at)
                ids.append(place)
        return new, held, ids, repeated

    def get(self, key: int, /) -> int | None:
        return self._ids.get(key)

    def __contains__(self, key: int, /) -> bool:
        return key in self._ids

    def __len__(self) -> int:
        return len(self._ids)


KeyMap: TypeAlias = "NativeKeyMap | ReferenceKeyMap"
"""The native map when built, else the reference: the same methods, held to the same answers."""


def new_key_map() -> KeyMap:
    """The native map when built, else the reference."""
    try:
        from broker.pii._native import KeyMap as NativeKeyMap
    except ImportError:
        return ReferenceKeyMap()
    return NativeKeyMap()
