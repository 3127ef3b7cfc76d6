"""The cache's Prometheus metrics, on the gateway's registry."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter

from broker.metrics import Children, LoopCounter

STATUSES = ("hit", "miss", "bypass", "uncacheable", "coalesced")
"""hit: served from the cache; miss: fetched (and stored when successful); bypass: the caller
asked for a fresh result; uncacheable: no TTL applies; coalesced: answered by another
caller's fetch of the same key (single flight)."""


class CacheMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.lookups = LoopCounter(  # counted on the event loop only, on every call
            "broker_cache_lookups",
            "Tool calls by cache status (hit, miss, bypass, uncacheable, coalesced)",
            ("tool", "status"),
        )
        registry.register(self.lookups)
        self.stores = Counter(
            "broker_cache_stores", "Results stored in the cache", ["tool"], registry=registry
        )
        self.evictions = Counter(
            "broker_cache_evictions",
            "Live entries dropped from the in-process cache to stay within its bounds",
            registry=registry,
        )
        self.errors = Counter(
            "broker_cache_errors",
            "Cache store failures (e.g. Redis unreachable); those calls went upstream uncached",
            registry=registry,
        )
        self._totals: dict[str, int] = dict.fromkeys(STATUSES, 0)
        self._evicted = 0
        self._children = Children()

    def count(self, tool: str, status: str) -> None:
        self.lookups.child(tool, status).value += 1.0
        self._totals[status] += 1

    def stored(self, tool: str) -> None:
        self._children(self.stores, tool).inc()

    def totals(self) -> dict[str, int]:
        """Lookups by status in this process, for `broker cache stats`."""
        return dict(self._totals)

    def evicted(self, count: int) -> None:
        self.evictions.inc(count)
        self._evicted += count

    def eviction_total(self) -> int:
        return self._evicted
