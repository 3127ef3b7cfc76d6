"""What the gateway's token vaults share: the in-memory front, and the conflict they refuse.

`Front` holds token values an instance has seen, decrypted: the read-through front of a vault.

A token's value never changes once stored (the vaults insert if absent), so an entry is
right until its expiry; only the expiry can move (a refresh on another instance), and an
entry past its expiry is dropped so the vault behind is asked again.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable


class TokenConflict(RuntimeError):
    """Another instance stored a different value under the same token id at the same moment.

    The masker then cannot use that id; the call fails (and a retry gets a longer id).
    """


class Front:
    """A bounded LRU of (agent, token) -> (value, expires at, wall-clock seconds)."""

    def __init__(self, max_entries: int) -> None:
        self._entries: OrderedDict[tuple[str, str], tuple[str, float]] = OrderedDict()
        self._max_entries = max_entries

    def get(self, agent: str, token: str, now: float) -> str | None:
        key = (agent, token)
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[1] <= now:
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return entry[0]

    def put(self, agent: str, token: str, value: str, expires: float) -> None:
        key = (agent, token)
        self._entries[key] = (value, expires)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)

    def get_many(self, agent: str, tokens: Iterable[str], now: float) -> tuple[dict[str, str], list[str]]:
        """`get` of each token: the values found, and the tokens not (in order)."""
        found, missing = self.get_keyed([(agent, token) for token in tokens], now)
        return found, [token for _, token in missing]

    def get_keyed(
        self, keys: list[tuple[str, str]], now: float
    ) -> tuple[dict[str, str], list[tuple[str, str]]]:
        """`get_many` of (agent, token) keys, giving back the keys not found (`keys` itself when
        none is), for a caller that looks them up elsewhere by the same keys. A big result asks
        for 20,000 tokens or more, so the loop is one call, not one per token; and a result's new
        tokens, none of them here (nearly always), one set operation in C."""
        entries = self._entries
        if entries.keys().isdisjoint(keys):
            return {}, keys
        found: dict[str, str] = {}
        missing: list[tuple[str, str]] = []
        for key in keys:
            entry = entries.get(key)
            if entry is None:
                missing.append(key)
            elif entry[1] <= now:
                del entries[key]
                missing.append(key)
            else:
                entries.move_to_end(key)
                found[key[1]] = entry[0]
        return found, missing

    def put_many(self, agent: str, items: Iterable[tuple[str, str]], expires: float) -> None:
        """`put` of each (token, value), all expiring at `expires`; the oldest entries past the
        bound go once, after all (a `move_to_end` of each new key cost ~60% more)."""
        entries = self._entries
        for token, value in items:
            key = (agent, token)
            if key in entries:  # a new key goes in at the end already
                entries.move_to_end(key)
            entries[key] = (value, expires)
        for _ in range(len(entries) - self._max_entries):
            entries.popitem(last=False)

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
