"""The tool-result cache: the Cache stage, its stores (in process or Redis), stats and purges.

What is cached, for how long and for whom is decided per call in `broker.cache.plan` from
the agent's policies (`policies.cache`) and the tool's annotations.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import asdict
from typing import Any

from prometheus_client import CollectorRegistry

from broker.cache.backend import CacheStore, StoreStats
from broker.cache.entry import SHARED_SCOPE, agent_scope
from broker.cache.memory import MemoryStore
from broker.cache.metrics import CacheMetrics
from broker.cache.plan import Planner
from broker.cache.stage import Cache
from broker.pii.keys import pii_salt
from broker.settings import Settings


def key_secret(settings: Settings) -> bytes:
    """The HMAC key of cache keys: from the audit hash key and the PII salt, the same on every
    instance. A new salt masks hashes and tokens differently, so it also starts new keys."""
    salt = pii_salt(settings) or b""
    material = b"broker-cache-keys\0" + hashlib.sha256(salt).digest()
    return hmac.new(settings.audit_hash_key.get_secret_value().encode(), material, hashlib.sha256).digest()


class ResultCache:
    """The cache's parts: the store, the stage in the tool pipeline, and what operators ask of it."""

    def __init__(
        self, store: CacheStore, planner: Planner, metrics: CacheMetrics, *, lock_seconds: float
    ) -> None:
        self.store = store
        self.planner = planner
        self.metrics = metrics
        self.stage = Cache(store, planner, metrics, lock_seconds=lock_seconds)

    @classmethod
    def from_settings(cls, settings: Settings, registry: CollectorRegistry) -> ResultCache | None:
        """The configured cache, or None when `cache_backend` is off."""
        backend = settings.cache_backend
        if backend == "off":
            return None
        if backend == "auto":
            backend = "redis" if settings.redis_url else "memory"
        metrics = CacheMetrics(registry)
        store: CacheStore
        if backend == "redis":
            if not settings.redis_url:
                raise ValueError("cache_backend is redis but no redis_url is set (BROKER_REDIS_URL)")
            from broker.cache.redis_store import RedisStore

            store = RedisStore(settings.redis_url, max_entry_bytes=settings.cache_max_entry_bytes)
        else:
            store = MemoryStore(
                max_entries=settings.cache_max_entries,
                max_bytes=settings.cache_max_bytes,
                max_entry_bytes=settings.cache_max_entry_bytes,
                on_evict=metrics.evicted,
            )
        planner = Planner(key_secret(settings), settings.cache_default_ttl_seconds)
        return cls(store, planner, metrics, lock_seconds=settings.cache_lock_seconds)

    async def stats(self) -> dict[str, Any]:
        """What the store holds, and this instance's lookups by status and evictions."""
        held: StoreStats = await self.store.stats()
        return {
            **asdict(held),
            "lookups": self.metrics.totals(),
            "evictions": self.metrics.eviction_total(),
        }

    async def purge(self, *, tool: str | None = None, agent_id: str | None = None) -> int:
        """Drop a tool's entries, an agent's own entries (not shared ones), both, or everything."""
        return await self.store.purge(tool, agent_scope(agent_id) if agent_id is not None else None)

    async def close(self) -> None:
        await self.stage.close()
        await self.store.close()


__all__ = ["SHARED_SCOPE", "Cache", "CacheMetrics", "Planner", "ResultCache"]
