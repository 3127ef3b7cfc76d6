"""Where a 2025 session's state lives, so that any instance can serve it.

A session is what `initialize` negotiated (protocol version, the client's capabilities and
info), who opened it (a digest of the caller's principal, never the principal itself) and
the level it set with `logging/setLevel`, and the resources it subscribed to. With Redis:

    <channel>:mcp-session:<session id>    owner, version, client, level; expires after a day idle
    <channel>:mcp-subs:<sha256 of a URI>  the sessions subscribed to that resource
    <channel>:mcp-session-subs:<session id>  the URI digests a session subscribed to

URIs appear only as digests (a URI may carry personal data). DELETE removes the keys, so a
deleted session is refused everywhere: an instance that does not hold the session finds
nothing to adopt, and no update reaches it. Without Redis there is one instance and the record
lives in its memory (the SDK holds the live session there anyway).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Protocol

from cachetools import TTLCache
from mcp.server.auth.middleware.bearer_auth import AuthorizationContext

SESSION_TTL_SECONDS = 86_400
"""A session not used for a day is forgotten (an instance's own copy idles out after 30 minutes)."""


@dataclass
class SessionRecord:
    owner: str
    """A digest of the principal (client id, issuer, subject) that opened the session."""
    version: str
    client: str
    """The `initialize` params as JSON (client info and capabilities)."""
    level: str | None = None


def owner_digest(requestor: AuthorizationContext | None) -> str:
    """Stands for the caller in the store: comparable, but never the agent or end user itself."""
    text = json.dumps(dict(requestor) if requestor is not None else None, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


class SessionStore(Protocol):
    async def save(self, session_id: str, record: SessionRecord) -> None: ...

    async def load(self, session_id: str) -> SessionRecord | None: ...

    async def set_level(self, session_id: str, level: str) -> None: ...

    async def touch(self, session_id: str) -> None: ...

    async def delete(self, session_id: str) -> None:
        """Forget the session and its subscriptions."""
        ...

    async def subscribe(self, session_id: str, uri: str) -> None: ...

    async def unsubscribe(self, session_id: str, uri: str) -> int:
        """Returns how many sessions are still subscribed to `uri`."""
        ...

    async def subscribers(self, uri: str) -> set[str]: ...

    async def close(self) -> None: ...


class MemorySessionStore:
    def __init__(self, maxsize: int = 100_000) -> None:
        self._records: TTLCache[str, SessionRecord] = TTLCache(maxsize=maxsize, ttl=SESSION_TTL_SECONDS)
        self._subscribers: dict[str, set[str]] = {}
        self._subscribed: dict[str, set[str]] = {}

    async def save(self, session_id: str, record: SessionRecord) -> None:
        self._records[session_id] = record

    async def load(self, session_id: str) -> SessionRecord | None:
        return self._records.get(session_id)

    async def set_level(self, session_id: str, level: str) -> None:
        record = self._records.get(session_id)
        if record is not None:
            record.level = level

    async def touch(self, session_id: str) -> None:
        record = self._records.get(session_id)
        if record is not None:
            self._records[session_id] = record

    async def delete(self, session_id: str) -> None:
        self._records.pop(session_id, None)
        for uri in self._subscribed.pop(session_id, set()):
            await self.unsubscribe(session_id, uri)

    async def subscribe(self, session_id: str, uri: str) -> None:
        self._subscribers.setdefault(uri, set()).add(session_id)
        self._subscribed.setdefault(session_id, set()).add(uri)

    async def unsubscribe(self, session_id: str, uri: str) -> int:
        self._subscribed.get(session_id, set()).discard(uri)
        left = self._subscribers.get(uri, set())
        left.discard(session_id)
        if not left:
            self._subscribers.pop(uri, None)
        return len(left)

    async def subscribers(self, uri: str) -> set[str]:
        return set(self._subscribers.get(uri, ()))

    async def close(self) -> None:
        return None


class RedisSessionStore:
    def __init__(self, url: str, channel: str) -> None:
        from redis.asyncio import Redis

        self._redis: Redis = Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self._prefix = f"{channel}:mcp-session:"
        self._subs = f"{channel}:mcp-subs:"
        self._session_subs = f"{channel}:mcp-session-subs:"

    async def save(self, session_id: str, record: SessionRecord) -> None:
        fields: dict[Any, str] = {
            "owner": record.owner,
            "version": record.version,
            "client": record.client,
        }
        if record.level is not None:
            fields["level"] = record.level
        key = self._prefix + session_id
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping=fields)
            pipe.expire(key, SESSION_TTL_SECONDS)
            await pipe.execute()

    async def load(self, session_id: str) -> SessionRecord | None:
        raw = await self._redis.hgetall(self._prefix + session_id)
        if not raw:
            return None
        fields = {_text(key): _text(value) for key, value in raw.items()}
        try:
            return SessionRecord(fields["owner"], fields["version"], fields["client"], fields.get("level"))
        except KeyError:  # a half-written record: as good as none
            return None

    async def set_level(self, session_id: str, level: str) -> None:
        key = self._prefix + session_id
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, "level", level)  # on a deleted record this leaves a level alone: load() says none
            pipe.expire(key, SESSION_TTL_SECONDS)
            await pipe.execute()

    async def touch(self, session_id: str) -> None:
        await self._redis.expire(self._prefix + session_id, SESSION_TTL_SECONDS)

    async def delete(self, session_id: str) -> None:
        mine = self._session_subs + session_id
        digests = await self._redis.smembers(mine)
        async with self._redis.pipeline(transaction=True) as pipe:
            for digest in digests:
                pipe.srem(self._subs + _text(digest), session_id)
            pipe.delete(self._prefix + session_id, mine)
            await pipe.execute()

    async def subscribe(self, session_id: str, uri: str) -> None:
        digest, mine = _digest(uri), self._session_subs + session_id
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.sadd(self._subs + digest, session_id)
            pipe.expire(self._subs + digest, SESSION_TTL_SECONDS)
            pipe.sadd(mine, digest)
            pipe.expire(mine, SESSION_TTL_SECONDS)
            await pipe.execute()

    async def unsubscribe(self, session_id: str, uri: str) -> int:
        digest = _digest(uri)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.srem(self._session_subs + session_id, digest)
            pipe.srem(self._subs + digest, session_id)
            pipe.scard(self._subs + digest)
            left = (await pipe.execute())[-1]
        return int(left)

    async def subscribers(self, uri: str) -> set[str]:
        return {_text(member) for member in await self._redis.smembers(self._subs + _digest(uri))}

    async def close(self) -> None:
        await self._redis.aclose()


def _digest(uri: str) -> str:
    return hashlib.sha256(uri.encode()).hexdigest()


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def make_session_store(redis_url: str | None, channel: str) -> SessionStore:
    return RedisSessionStore(redis_url, channel) if redis_url else MemorySessionStore()
