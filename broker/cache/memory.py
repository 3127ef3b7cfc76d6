"""The in-process store: a TLRU cache (cachetools) bounded in entries and in bytes.

Each entry expires at its own TTL; when a bound is reached the least recently used live
entry goes (an eviction). Sizes are the results' compact JSON length, a fair proxy for the
memory they hold. Results are kept as the objects they are, so a hit costs a lookup.
"""

from __future__ import annotations

import time
from collections import Counter

from cachetools import TLRUCache

from broker.cache.backend import EvictionHook, StoreStats
from broker.cache.entry import Cached, CacheKey, Entry, encoded_size

LOCAL_CLAIM = "local"
"""The in-process store's claim token: release does nothing with it (a uuid4 cost ~2 us a miss)."""


def _expires(_key: CacheKey, entry: Entry, now: float) -> float:
    return now + entry.ttl


def _size(entry: Entry) -> int:
    return entry.size


class _Bounded(TLRUCache[CacheKey, Entry]):
    """A TLRU cache bounded in bytes (its maxsize) and in entries, counting evictions."""

    def __init__(self, max_entries: int, max_bytes: int, on_evict: EvictionHook) -> None:
        super().__init__(maxsize=max_bytes, ttu=_expires, timer=time.time, getsizeof=_size)
        self._max_entries = max_entries
        self._on_evict = on_evict

    def __setitem__(self, key: CacheKey, value: Entry) -> None:
        self.expire()
        if key not in self:
            while len(self) >= self._max_entries:
                self.popitem()
        super().__setitem__(key, value)

    def popitem(self) -> tuple[CacheKey, Entry]:
        item = super().popitem()
        self._on_evict(1)
        return item


class MemoryStore:
    """Entries in this process; several instances each keep their own (use Redis to share)."""

    def __init__(
        self, *, max_entries: int, max_bytes: int, max_entry_bytes: int, on_evict: EvictionHook
    ) -> None:
        self._data = _Bounded(max_entries, max_bytes, on_evict)
        self._max_entries = max_entries
        self._max_bytes = max_bytes
        self._max_entry_bytes = min(max_entry_bytes, max_bytes)

    @property
    def name(self) -> str:
        return "memory"

    async def get(self, key: CacheKey, max_age: float) -> Entry | None:
        try:
            entry = self._data[key]  # one lookup: get() looks the key up twice, each with its expiry check
        except KeyError:
            return None
        return entry if entry.fresh(time.time(), max_age) else None

    async def put(self, key: CacheKey, output: Cached, ttl: float) -> bool:
        now = time.time()
        size = encoded_size(output, now, ttl)
        if size > self._max_entry_bytes:
            return False
        self._data[key] = Entry(output, now, ttl, size)
        return True

    async def purge(self, tool: str | None, scope: str | None) -> int:
        doomed = [
            key
            for key in list(self._data.keys())
            if (tool is None or key.tool == tool)
            and (scope is None or key.scope == scope or key.scope.startswith(f"{scope}.u."))
        ]
        for key in doomed:
            self._data.pop(key, None)
        return len(doomed)

    async def stats(self) -> StoreStats:
        self._data.expire()
        keys = list(self._data.keys())
        return StoreStats(
            backend=self.name,
            entries=len(keys),
            bytes=int(self._data.currsize),
            by_tool=dict(Counter(key.tool for key in keys)),
            max_entries=self._max_entries,
            max_bytes=self._max_bytes,
        )

    async def claim(self, key: CacheKey, seconds: float) -> str | None:
        return LOCAL_CLAIM  # one process: the stage's own single flight is enough

    async def release(self, key: CacheKey, token: str) -> None:
        return None

    async def wait(self, key: CacheKey, max_age: float, seconds: float) -> Entry | None:
        return None

    async def close(self) -> None:
        self._data.clear()
