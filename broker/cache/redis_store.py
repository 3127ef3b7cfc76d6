"""The Redis store: entries shared by every gateway instance, expired by Redis itself.

    broker:cache:v1:<tool>|<scope>|<digest>        the result as compact JSON, PX = its TTL
    broker:cache-lock:v1:<tool>|<scope>|<digest>   the instance fetching a missed key (SET NX PX)

A miss claims the lock; other instances poll (5 ms, doubling to 50 ms) for the value until
the lock goes or their wait bound passes, then call the upstream themselves. Every Redis
failure becomes `StoreUnavailable`, so the stage serves the call uncached.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from urllib.parse import quote, unquote

from redis.asyncio import Redis
from redis.exceptions import RedisError

from broker.cache.backend import StoreStats, StoreUnavailable
from broker.cache.entry import Cached, CacheKey, Entry, decode, encode

log = logging.getLogger("broker.cache")

PREFIX = "broker:cache:v1:"
LOCK_PREFIX = "broker:cache-lock:v1:"
_BATCH = 500
_GLOB = re.compile(r"([*?\[\]\\])")

# KEYS: the lock. ARGV: the token that claimed it. Deletes the lock only if still ours.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def _glob_literal(text: str) -> str:
    return _GLOB.sub(r"\\\1", text)


@contextlib.contextmanager
def _unavailable() -> Iterator[None]:
    try:
        yield
    except (RedisError, OSError) as exc:
        raise StoreUnavailable(f"Redis: {exc}") from exc


class RedisStore:
    def __init__(self, url: str, *, max_entry_bytes: int) -> None:
        self._redis: Redis = Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self._max_entry_bytes = max_entry_bytes
        self._release = self._redis.register_script(_RELEASE)

    @property
    def name(self) -> str:
        return "redis"

    async def get(self, key: CacheKey, max_age: float) -> Entry | None:
        with _unavailable():
            raw = await self._redis.get(PREFIX + key.text())
        return self._fresh(raw, max_age)

    async def put(self, key: CacheKey, output: Cached, ttl: float) -> bool:
        raw = encode(output, time.time(), ttl)
        if len(raw) > self._max_entry_bytes:
            return False
        with _unavailable():
            await self._redis.set(PREFIX + key.text(), raw, px=max(1, round(ttl * 1000)))
        return True

    async def purge(self, tool: str | None, scope: str | None) -> int:
        tool_part = _glob_literal(quote(tool, safe="._-")) if tool is not None else "*"
        scope_part = _glob_literal(scope) if scope is not None else "*"
        patterns = [f"{PREFIX}{tool_part}|{scope_part}|*"]
        if scope is not None:  # an agent's scope covers the scopes of the end users it acts for
            patterns.append(f"{PREFIX}{tool_part}|{scope_part}.u.*|*")
        purged = 0
        with _unavailable():
            for pattern in patterns:
                async for batch in self._scan(pattern):
                    purged += int(await self._redis.unlink(*batch))
        return purged

    async def stats(self) -> StoreStats:
        by_tool: Counter[str] = Counter()
        size = 0
        with _unavailable():
            async for batch in self._scan(PREFIX + "*"):
                async with self._redis.pipeline(transaction=False) as pipe:
                    for name in batch:
                        pipe.strlen(name)
                    lengths = await pipe.execute()
                for name, length in zip(batch, lengths, strict=True):
                    if length:
                        by_tool[unquote(name.decode()[len(PREFIX) :].split("|", 1)[0])] += 1
                        size += int(length)
        return StoreStats(backend=self.name, entries=sum(by_tool.values()), bytes=size, by_tool=dict(by_tool))

    async def claim(self, key: CacheKey, seconds: float) -> str | None:
        token = uuid.uuid4().hex
        with _unavailable():
            claimed = await self._redis.set(
                LOCK_PREFIX + key.text(), token, nx=True, px=max(1, round(seconds * 1000))
            )
        return token if claimed else None

    async def release(self, key: CacheKey, token: str) -> None:
        with _unavailable():
            await self._release(keys=[LOCK_PREFIX + key.text()], args=[token])

    async def wait(self, key: CacheKey, max_age: float, seconds: float) -> Entry | None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        delay = 0.005
        while loop.time() < deadline:
            await asyncio.sleep(min(delay, max(0.0, deadline - loop.time())))
            delay = min(delay * 2, 0.05)
            with _unavailable():
                async with self._redis.pipeline(transaction=False) as pipe:
                    pipe.get(PREFIX + key.text())
                    pipe.exists(LOCK_PREFIX + key.text())
                    raw, locked = await pipe.execute()
            entry = self._fresh(raw, max_age)
            if entry is not None or not locked:
                return entry
        return None

    async def close(self) -> None:
        await self._redis.aclose()

    async def _scan(self, pattern: str) -> AsyncIterator[list[bytes]]:
        batch: list[bytes] = []
        async for name in self._redis.scan_iter(match=pattern, count=1000):
            batch.append(name)
            if len(batch) >= _BATCH:
                yield batch
                batch = []
        if batch:
            yield batch

    @staticmethod
    def _fresh(raw: object, max_age: float) -> Entry | None:
        if not isinstance(raw, bytes):
            return None
        try:
            entry = decode(raw)
        except (ValueError, KeyError, TypeError):
            log.warning("ignoring a cache entry that cannot be read")
            return None
        return entry if entry.fresh(time.time(), max_age) else None
