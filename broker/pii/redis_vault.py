"""The token vault in Redis (when BROKER_REDIS_URL is set): shared by every instance, TTL native.

One key per token, `broker:pii:<agent>:<token>`, holding the value sealed with its agent and
token (broker/pii/sealing.py) and expiring with the token. Writes are `SET NX PX`, one
script per batch (`claim_many`), before the call returns, so a next call served by any
instance resolves the token. A key that already exists is checked: the same value has its
expiry extended (`PEXPIRE GT`); another value is never overwritten (the masker lengthens
that token; `put` raises `TokenConflict`). Reads
go to the memory front first, then one script of GET and PTTL for what is missing (a pipeline
of both per token cost ~25 µs a token in this process, the script ~6).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence

from redis.asyncio import Redis

from broker.pii.front import Front, TokenConflict
from broker.pii.keys import sealed_name
from broker.pii.nogc import gc_paused
from broker.pii.sealing import TokenSealer
from broker.secrets.keys import Undecryptable

log = logging.getLogger("broker.pii")

PREFIX = "broker:pii:"
_CLAIM = """
-- KEYS: the tokens' keys; ARGV[1]: milliseconds to live; ARGV[i + 1]: the sealed value of KEYS[i].
-- Sets each key that does not exist; returns, per key, nil where it was set, else what it holds.
local held = {}
for i, name in ipairs(KEYS) do
  if redis.call('SET', name, ARGV[i + 1], 'NX', 'PX', ARGV[1]) then
    held[i] = false
  else
    held[i] = redis.call('GET', name)
  end
end
return held
"""
_LOOK_UP = """
-- KEYS: the tokens' keys. Returns, per key, what it holds (nil when none) and its PTTL.
local found = {}
for i, name in ipairs(KEYS) do
  local value = redis.call('GET', name)
  found[2 * i - 1] = value
  found[2 * i] = value and redis.call('PTTL', name) or -2
end
return found
"""


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
        self._claim = redis.register_script(_CLAIM)
        self._look_up = redis.register_script(_LOOK_UP)

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
        with gc_paused():
            found, missing = self._front.get_many(agent, tokens, now)
        if missing:
            answers = await self._look_up(keys=[key(agent, token) for token in missing])
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
        return [found.get(token) for token in tokens]

    async def put_many(self, agent: str, items: Mapping[str, str], ttl: float) -> None:
        conflicts = await self.claim_many(agent, items, ttl)
        if conflicts:
            raise TokenConflict(f"token id(s) {', '.join(sorted(conflicts)[:3])} already hold another value")

    async def claim_many(self, agent: str, items: Mapping[str, str], ttl: float) -> set[str]:
        """See `ClaimingTokenVault`: one script per batch sets the free keys (`SET NX PX`) and
        returns what the others hold, which are then checked here. A pipeline of one `SET NX`
        per token cost ~90 ms per MB of CRM records and the lookups before it ~150; the script
        ~25 in all (bench/vault_stage.py)."""
        if not items:
            return set()
        milliseconds = max(1, int(ttl * 1000))
        tokens = list(items)
        ciphertexts = self._sealer.seal_many([sealed_name(agent, t) for t in tokens], list(items.values()))
        held = await self._claim(keys=[key(agent, t) for t in tokens], args=[milliseconds, *ciphertexts])
        taken = [
            (token, index) for index, (token, stored) in enumerate(zip(tokens, held, strict=True)) if stored
        ]
        conflicts = (
            await self._settle_taken(agent, taken, items, ciphertexts, held, milliseconds) if taken else set()
        )
        expires = self.clock() + ttl
        with gc_paused():
            stored = (
                items.items() if not conflicts else [(t, v) for t, v in items.items() if t not in conflicts]
            )
            self._front.put_many(agent, stored, expires)
        return conflicts

    async def _settle_taken(
        self,
        agent: str,
        taken: list[tuple[str, int]],
        items: Mapping[str, str],
        sealed: list[bytes],
        held: list[bytes | None],
        milliseconds: int,
    ) -> set[str]:
        """Keys that exist already: extend the same value, take over an unreadable one; returns
        the tokens whose key holds another value."""
        pipe = self._redis.pipeline(transaction=False)
        conflicts: set[str] = set()
        for token, index in taken:
            name = key(agent, token)
            stored = held[index]
            current = None if stored is None else self._open(agent, token, stored)
            if current == items[token]:
                pipe.pexpire(name, milliseconds, gt=True)
            elif current is None:  # sealed with a key no longer configured
                pipe.set(name, sealed[index], px=milliseconds)
            else:
                conflicts.add(token)
        if len(pipe):
            await pipe.execute()
        return conflicts

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
