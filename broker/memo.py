"""`Memo`: the hot path's bounded memos (verdicts, digests, metric children, scrubbed names)."""

from __future__ import annotations

from typing import TypeVar

K = TypeVar("K")
V = TypeVar("V")


class Memo(dict[K, V]):
    """A dict that empties itself whole when a new entry would pass `limit`: lookups are the
    dict's own `get`, where an LRU pays its bookkeeping on every hit, and a memo emptied by
    a burst of new keys refills from the next calls. Read with `get`, add with `keep`."""

    __slots__ = ("limit",)

    def __init__(self, limit: int = 4096) -> None:
        super().__init__()
        self.limit = limit

    def keep(self, key: K, value: V) -> V:
        if len(self) >= self.limit:
            self.clear()
        self[key] = value
        return value
