"""The Cache stage: answer repeated calls from the cache, fetch each missed key once.

Tool calls and resource reads are cached (`Planner`); prompt gets and completions pass by.
It sits after Authorize (so a hit is never served to an agent the policy refuses) and before
MaskPII (so what comes back from `call_next`, and is stored, is already masked). Only
successful results are stored. Concurrent misses of one key share one upstream call in this
process; with Redis, instances also wait for the one instance that claimed the key.
The status (hit, miss, bypass, uncacheable, coalesced) goes to `call.notes["cache"]`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from functools import partial
from typing import TypeVar

from broker.cache.backend import CacheStore, StoreUnavailable
from broker.cache.entry import Cached, CacheKey
from broker.cache.metrics import CacheMetrics
from broker.cache.plan import Plan, Planner, cache_label
from broker.pipeline.call import Next, Request
from broker.tasks import cancel_and_wait
from connectors.base import Output, ResourceOutput, ToolOutput

log = logging.getLogger("broker.cache")

T = TypeVar("T")
_CACHED = (ToolOutput, ResourceOutput)


class Cache:
    def __init__(
        self, store: CacheStore, planner: Planner, metrics: CacheMetrics, *, lock_seconds: float
    ) -> None:
        self._store = store
        self._planner = planner
        self._metrics = metrics
        self._lock_seconds = lock_seconds
        self._flights: dict[CacheKey, asyncio.Task[Output]] = {}

    async def __call__(self, call: Request, call_next: Next) -> Output:
        plan = self._planner.plan(call)
        if plan is None:
            self._note(call, "uncacheable", cache_label(call))
            return await call_next(call)
        if call.cache_bypass and plan.bypass_allowed:
            self._note(call, "bypass", plan.key.tool)
            output = await call_next(call)
            await self._keep(call, plan, output)
            return output
        try:  # as _safely, one coroutine fewer on every lookup
            entry = await self._store.get(plan.key, plan.ttl)
        except StoreUnavailable as exc:
            entry = self._unavailable(exc, None)
        if entry is not None:
            self._note(call, "hit", plan.key.tool)
            return entry.output
        flight = self._flights.get(plan.key)
        if flight is not None:
            self._note(call, "coalesced", plan.key.tool)
            return await asyncio.shield(flight)
        flight = asyncio.create_task(self._fill(call, call_next, plan), name="broker-cache-fill")
        self._flights[plan.key] = flight
        flight.add_done_callback(partial(self._landed, plan.key))
        # Shielded: a caller that goes away does not cancel the fetch others wait for.
        return await asyncio.shield(flight)

    async def close(self) -> None:
        await cancel_and_wait(*self._flights.values())

    async def _fill(self, call: Request, call_next: Next, plan: Plan) -> Output:
        """Fetch a missed key: claim it across instances, or wait for the instance that did."""
        token = await self._safely(self._store.claim(plan.key, self._lock_seconds), "")
        if token is None:
            entry = await self._safely(self._store.wait(plan.key, plan.ttl, self._lock_seconds), None)
            if entry is not None:
                self._note(call, "coalesced", plan.key.tool)
                return entry.output
        self._note(call, "miss", plan.key.tool)
        try:
            output = await call_next(call)
            await self._keep(call, plan, output)
            return output
        finally:
            if token:
                await self._safely(self._store.release(plan.key, token), None)

    async def _keep(self, call: Request, plan: Plan, output: Output) -> None:
        if not isinstance(output, _CACHED) or (
            isinstance(output, ToolOutput) and (output.is_error or output.input_required is not None)
        ):
            return
        stored: Cached = output
        if await self._safely(self._store.put(plan.key, stored, plan.ttl), False):
            self._metrics.stored(plan.key.tool)

    def _landed(self, key: CacheKey, flight: asyncio.Task[Output]) -> None:
        if self._flights.get(key) is flight:
            del self._flights[key]
        if not flight.cancelled():
            flight.exception()  # retrieved here, so one nobody awaited is not logged as lost

    def _note(self, call: Request, status: str, label: str) -> None:
        call.notes["cache"] = status
        self._metrics.count(label, status)

    async def _safely(self, operation: Awaitable[T], fallback: T) -> T:
        """A store operation; when the store is unreachable the call goes on without it."""
        try:
            return await operation
        except StoreUnavailable as exc:
            return self._unavailable(exc, fallback)

    def _unavailable(self, exc: StoreUnavailable, fallback: T) -> T:
        self._metrics.errors.inc()
        log.warning("tool cache unavailable, serving uncached: %s", exc)
        return fallback
