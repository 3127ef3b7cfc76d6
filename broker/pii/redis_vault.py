"""The token vault in Redis (when BROKER_REDIS_URL is set): shared by every instance, TTL native.

One key per token, `broker:pii:<agent>:<token>`, holding the value sealed with its agent and
token (broker/pii/sealing.py) and expiring with the token. Writes are
`SET NX PX` in one pipeline, written before the call returns, so a next call served by any
instance resolves the token. A key that already exists is checked: the same value has its
expiry extended (`PEXPIRE GT`); another value is a `TokenConflict`, never overwritten. Reads
go to the memory front first, then one pipeline of GET and PTTL for what is missing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence

from redis.asyncio import Redis

from broker.pii.front import Front, TokenConflict
from broker.pii.keys import sealed_name
from broker.pii.sealing import TokenSealer
from broker.secrets.keys import Undecryptable

log = logging.getLogger("broker.pii")

PREFIX = "broker:pii:"


class RedisTokenVault:
    """A `TokenVault` (with `get_many`/`put_many`) in Redis."""

    def __init__(
        self,
        redis: Redis,
        sealer: TokenSealer,
        *,
        cache_entries: int = 100_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._redis = redis
        self._sealer = sealer
        self._front = Front(cache_entries)
        self.clock = clock

    @classmethod
    def from_url(cls, url: str, sealer: TokenSealer, *, cache_entries: int = 100_000) -> RedisTokenVault:
        redis = Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        return cls(redis, sealer, cache_entries=cache_entries)

    async def get(self, agent: str, token: str) -> str | None:
        return (await self.get_many(agent, [token]))[0]

    async def put(self, agent: str, token: str, value: str, ttl: float) -> None:
        await self.put_many(agent, {token: value}, ttl)

    async def get_many(self, agent: str, tokens: Sequence[str]) -> list[str | None]:
        now = self.clock()
        found = {token: self._front.get(agent, token, now) for token in tokens}
        missing = [token for token, value in found.items() if value is None]
        if missing:
            pipe = self._redis.pipeline(transaction=False)
            for token in missing:
                pipe.get(key(agent, token))
                pipe.pttl(key(agent, token))
            answers = await pipe.execute()
            now = self.clock()
            for index, token in enumerate(missing):
                ciphertext, pttl = answers[2 * index], answers[2 * index + 1]
                if ciphertext is None or pttl is None or pttl == -2:
                    continue
                value = self._open(agent, token, ciphertext)
                if value is not None:
                    # a key without expiry (-1) was not written by us; hold it briefly all the same
                    expires = now + (pttl / 1000 if pttl > 0 else 60.0)
                    self._front.put(agent, token, value, expires)
                    found[token] = value
        return [found[token] for token in tokens]

    async def put_many(self, agent: str, items: Mapping[str, str], ttl: float) -> None:
        milliseconds = max(1, int(ttl * 1000))
        ciphertexts = self._sealer.seal_many({sealed_name(agent, t): v for t, v in items.items()})
        sealed = dict(zip(items, ciphertexts, strict=True))
        pipe = self._redis.pipeline(transaction=False)
        for token, ciphertext in sealed.items():
            pipe.set(key(agent, token), ciphertext, nx=True, px=milliseconds)
        created = await pipe.execute()
        taken = [token for token, done in zip(sealed, created, strict=True) if not done]
        if taken:
            await self._settle_taken(agent, taken, items, sealed, milliseconds)
        expires = self.clock() + ttl
        for token, value in items.items():
            self._front.put(agent, token, value, expires)

    async def _settle_taken(
        self,
        agent: str,
        taken: list[str],
        items: Mapping[str, str],
        sealed: Mapping[str, bytes],
        milliseconds: int,
    ) -> None:
        """Keys that exist already: extend the same value, take over an unreadable one, refuse another."""
        held = await self._redis.mget([key(agent, token) for token in taken])
        pipe = self._redis.pipeline(transaction=False)
        conflicts: list[str] = []
        for token, ciphertext in zip(taken, held, strict=True):
            name = key(agent, token)
            current = None if ciphertext is None else self._open(agent, token, ciphertext)
            if current == items[token]:
                pipe.pexpire(name, milliseconds, gt=True)
            elif current is None:  # expired meanwhile, or sealed with a key no longer configured
                pipe.set(name, sealed[token], px=milliseconds)
            else:
                conflicts.append(token)
        await pipe.execute()
        if conflicts:
            raise TokenConflict(f"token id(s) {', '.join(conflicts[:3])} already hold another value")

    def _open(self, agent: str, token: str, ciphertext: bytes | str) -> str | None:
        raw = ciphertext.encode() if isinstance(ciphertext, str) else ciphertext
        try:
            return self._sealer.open(sealed_name(agent, token), raw)
        except Undecryptable:
            log.warning("a PII token of agent %s in Redis does not decrypt; it counts as unknown", agent)
            return None

    async def close(self) -> None:
        await self._redis.aclose()

    def __len__(self) -> int:
        """Tokens held in memory, for tests and stats."""
        return len(self._front)


def key(agent: str, token: str) -> str:
    return f"{PREFIX}{agent}:{token}"
