"""The token vault in the gateway's database (table `pii_tokens`), encrypted, with a memory front.

Rows are keyed by (agent, token) and only ever inserted, or taken over once expired: a live
token's value never changes. Reads go to the front first, then one SELECT for what is missing.

Writes, and what a next call sees:
- SQLite (one instance by design): write-behind. A new token is in the front (and a pending
  map) at once, so the next call on this instance resolves it; a background task writes
  pending tokens in batches every `flush_seconds`, off the call path, and on shutdown.
- PostgreSQL (maybe several instances): written before the call returns, in one statement,
  so a next call served by any instance finds it. Set BROKER_REDIS_URL to keep tokens in
  Redis instead (broker/pii/redis_vault.py).
Expired rows are deleted every `purge_seconds`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, delete, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from broker.pii.front import Front, TokenConflict
from broker.pii.keys import sealed_name
from broker.secrets.keys import Cipher, Undecryptable
from broker.store.models import PiiToken

log = logging.getLogger("broker.pii")

Row = tuple[str, str, str, float]
"""agent, token, value, expires (epoch seconds)."""
_CHUNK = 200


class SqlTokenVault:
    """A `TokenVault` (with `get_many`/`put_many`) over the `pii_tokens` table."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        cipher: Cipher,
        *,
        write_behind: bool,
        cache_entries: int = 100_000,
        flush_seconds: float = 0.05,
        purge_seconds: float = 600.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._sessions = sessions
        self._cipher = cipher
        self.write_behind = write_behind
        self._front = Front(cache_entries)
        self._pending: dict[tuple[str, str], tuple[str, float]] = {}
        self._flush_seconds = flush_seconds
        self._purge_seconds = purge_seconds
        self.clock = clock
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._flush_lock = asyncio.Lock()

    async def get(self, agent: str, token: str) -> str | None:
        return (await self.get_many(agent, [token]))[0]

    async def put(self, agent: str, token: str, value: str, ttl: float) -> None:
        await self.put_many(agent, {token: value}, ttl)

    async def get_many(self, agent: str, tokens: Sequence[str]) -> list[str | None]:
        now = self.clock()
        found: dict[str, str] = {}
        missing: list[str] = []
        for token in tokens:
            value = self._front.get(agent, token, now)
            if value is None:
                pending = self._pending.get((agent, token))
                if pending is not None and pending[1] > now:
                    value = pending[0]
            if value is None:
                missing.append(token)
            else:
                found[token] = value
        if missing:
            for token, value, expires in await asyncio.to_thread(self._read, agent, missing, now):
                self._front.put(agent, token, value, expires)
                found[token] = value
        return [found.get(token) for token in tokens]

    async def put_many(self, agent: str, items: Mapping[str, str], ttl: float) -> None:
        expires = self.clock() + ttl
        if self.write_behind:
            for token, value in items.items():
                self._front.put(agent, token, value, expires)
                self._pending[agent, token] = (value, expires)
            self._wake.set()
            return
        rows = [(agent, token, value, expires) for token, value in items.items()]
        conflicts = await asyncio.to_thread(self._write, rows, self.clock())
        if conflicts:
            raise TokenConflict(f"token id(s) {', '.join(conflicts[:3])} already hold another value")
        for token, value in items.items():
            self._front.put(agent, token, value, expires)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="broker-pii-vault")

    async def close(self) -> None:
        """Stop the background task and write every pending token."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._pending and not await self.flush():
            log.error("database unavailable at shutdown: %d PII tokens not stored", len(self._pending))

    async def flush(self) -> bool:
        """Write the pending tokens now; False when the database refused (they stay pending)."""
        async with self._flush_lock:
            if not self._pending:
                return True
            batch = dict(self._pending)
            rows = [(agent, token, value, expires) for (agent, token), (value, expires) in batch.items()]
            try:
                conflicts = await asyncio.to_thread(self._write, rows, self.clock())
            except Exception:
                log.exception("could not store %d PII tokens; will retry", len(rows))
                return False
            if conflicts:
                log.error("PII token id(s) hold another value in the database: %s", ", ".join(conflicts[:5]))
            for key, entry in batch.items():
                if self._pending.get(key) == entry:
                    del self._pending[key]
            return True

    async def purge(self) -> int:
        """Delete expired rows; returns how many."""
        return await asyncio.to_thread(self._purge, self.clock())

    async def _run(self) -> None:
        next_purge = time.monotonic() + self._purge_seconds
        backoff = self._flush_seconds
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._purge_seconds)
            self._wake.clear()
            await asyncio.sleep(backoff)  # gather what more calls add meanwhile into one batch
            backoff = self._flush_seconds if await self.flush() else min(backoff * 2, 30.0)
            if time.monotonic() >= next_purge:
                next_purge = time.monotonic() + self._purge_seconds
                try:
                    await self.purge()
                except Exception:
                    log.exception("could not delete expired PII tokens")
            if self._pending:
                self._wake.set()

    def _read(self, agent: str, tokens: list[str], now: float) -> list[tuple[str, str, float]]:
        query = select(PiiToken.token, PiiToken.ciphertext, PiiToken.expires_at).where(
            PiiToken.agent == agent, PiiToken.token.in_(tokens), PiiToken.expires_at > _at(now)
        )
        with self._sessions() as session:
            rows = session.execute(query).all()
        found: list[tuple[str, str, float]] = []
        for token, ciphertext, expires_at in rows:
            try:
                value = self._cipher.decrypt(sealed_name(agent, token), ciphertext)
            except Undecryptable:
                log.warning("a stored PII token of agent %s does not decrypt; it counts as unknown", agent)
                continue
            found.append((token, value, _epoch(expires_at)))
        return found

    def _write(self, rows: list[Row], now: float) -> list[str]:
        """Insert rows, taking over expired ones; refresh live ones that hold the same value.

        Returns the tokens whose live row holds another value (left as they are)."""
        conflicts: list[str] = []
        with self._sessions.begin() as session:
            for start in range(0, len(rows), _CHUNK):
                conflicts += self._write_chunk(session, rows[start : start + _CHUNK], now)
        return conflicts

    def _write_chunk(self, session: Session, rows: list[Row], now: float) -> list[str]:
        sealed = {
            (agent, token): {
                "ciphertext": self._cipher.encrypt(sealed_name(agent, token), value),
                "expires_at": _at(expires),
            }
            for agent, token, value, expires in rows
        }
        insert = _insert_for(session)(PiiToken).values(
            [{"agent": agent, "token": token, **columns} for (agent, token), columns in sealed.items()]
        )
        statement = insert.on_conflict_do_update(
            index_elements=[PiiToken.agent, PiiToken.token],
            set_={"ciphertext": insert.excluded.ciphertext, "expires_at": insert.excluded.expires_at},
            where=PiiToken.expires_at <= _at(now),
        ).returning(PiiToken.agent, PiiToken.token)
        written = {(agent, token) for agent, token in session.execute(statement)}
        held = [row for row in rows if (row[0], row[1]) not in written]
        if not held:
            return []
        stored = session.execute(
            select(PiiToken.agent, PiiToken.token, PiiToken.ciphertext).where(
                tuple_(PiiToken.agent, PiiToken.token).in_([(agent, token) for agent, token, _, _ in held])
            )
        )
        ciphertexts = {(agent, token): ciphertext for agent, token, ciphertext in stored}
        conflicts: list[str] = []
        for agent, token, value, expires in held:
            key = and_(PiiToken.agent == agent, PiiToken.token == token)
            if (agent, token) not in ciphertexts:  # purged meanwhile
                columns = {"agent": agent, "token": token, **sealed[agent, token]}
                again = _insert_for(session)(PiiToken).values(**columns)
                session.execute(again.on_conflict_do_nothing())
                continue
            try:
                same = self._cipher.decrypt(sealed_name(agent, token), ciphertexts[agent, token]) == value
            except Undecryptable:  # encrypted with a key no longer configured: take it over
                session.execute(update(PiiToken).where(key).values(**sealed[agent, token]))
                continue
            if same:  # the same value: extend its life
                longer = and_(key, PiiToken.expires_at < _at(expires))
                session.execute(update(PiiToken).where(longer).values(expires_at=_at(expires)))
            else:
                conflicts.append(token)
        return conflicts

    def _purge(self, now: float) -> int:
        with self._sessions.begin() as session:
            result = session.execute(delete(PiiToken).where(PiiToken.expires_at <= _at(now)))
        return int(getattr(result, "rowcount", 0) or 0)

    def __len__(self) -> int:
        """Tokens held in memory (the front and pending writes), for tests and stats."""
        return len(self._front) + len(self._pending)


def _insert_for(session: Session) -> Any:
    dialect = session.get_bind().dialect.name
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


def _at(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def _epoch(value: datetime) -> float:
    return (value if value.tzinfo is not None else value.replace(tzinfo=UTC)).timestamp()
