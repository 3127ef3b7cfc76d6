"""The one small protocol both cache stores implement: in process (default) and Redis."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from broker.cache.entry import Cached, CacheKey, Entry


@dataclass(frozen=True, slots=True)
class StoreStats:
    """What a store holds now."""

    backend: str
    entries: int
    bytes: int
    by_tool: dict[str, int] = field(default_factory=dict)
    max_entries: int | None = None
    max_bytes: int | None = None


class StoreUnavailable(Exception):
    """The store cannot be reached; the stage then calls the upstream as if nothing were cached."""


EvictionHook = Callable[[int], None]
"""Called with the number of entries a store evicted to stay within its bounds."""


class CacheStore(Protocol):
    """Where entries live. `get` answers only entries younger than `max_age` and their own TTL.

    `claim`/`release`/`wait` coordinate misses across instances (single flight): `claim`
    answers a token when this caller should fetch, None when another instance is fetching.
    """

    @property
    def name(self) -> str: ...

    async def get(self, key: CacheKey, max_age: float) -> Entry | None: ...

    async def put(self, key: CacheKey, output: Cached, ttl: float) -> bool:
        """Store a result; False when it is larger than an entry may be."""
        ...

    async def purge(self, tool: str | None, scope: str | None) -> int:
        """Drop the entries of a tool and/or a scope (all when both are None); how many went."""
        ...

    async def stats(self) -> StoreStats: ...

    async def claim(self, key: CacheKey, seconds: float) -> str | None: ...

    async def release(self, key: CacheKey, token: str) -> None: ...

    async def wait(self, key: CacheKey, max_age: float, seconds: float) -> Entry | None:
        """Wait up to `seconds` for the claimant's entry; None when it gave up or stored nothing."""
        ...

    async def close(self) -> None: ...
