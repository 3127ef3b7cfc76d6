"""The token vault in the gateway's database (table `pii_tokens`), encrypted, with a memory front.

Rows are keyed by (agent, token) and only ever inserted, or taken over once expired: a live
token's value never changes. Reads go to the front first, then one SELECT for what is missing.

Writes, and what a next call sees:
- SQLite (one instance by design): write-behind. A new token is in the front (and a pending
  map) at once, so the next call on this instance resolves it; a background task writes
  pending tokens in batches every `flush_seconds`, off the call path, and on shutdown.
- PostgreSQL (maybe several instances): written before the call returns, in one statement
  per 1,000 tokens that also checks them (`claim_many`: only ids already there are read
  back, to compare values), so a next call served by any instance finds it. Set
  BROKER_REDIS_URL to keep tokens in Redis instead (broker/pii/redis_vault.py).
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

from sqlalchemy import Connection, Engine, Table, and_, bindparam, delete, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.pool import QueuePool

from broker.pii.front import Front, TokenConflict
from broker.pii.keys import sealed_name
from broker.pii.nogc import gc_paused
from broker.pii.sealing import TokenSealer
from broker.pii.vault import claim_by_lookup
from broker.secrets.keys import Undecryptable
from broker.store.models import PiiToken
from broker.tasks import cancel_and_wait

log = logging.getLogger("broker.pii")

Row = tuple[str, str, str, float]
"""agent, token, value, expires (epoch seconds)."""
_TABLE: Table = PiiToken.__table__  # type: ignore[assignment]
LOCAL_READ_TOKENS = 64
"""On SQLite (a local file, WAL: a read never waits for a writer) a lookup of this many tokens
or fewer is made on the event loop: ~0.1 ms for the ~10 new tokens of a 2 KB result, where the
hop to a worker thread and back cost the loop ~0.17 ms of CPU more. Only while the pool holds an
idle connection, though: a checkout from a pool whose connections are all out (in threads) waits
for one, which must never happen on the loop."""


class SqlTokenVault:
    """A `TokenVault` (with `get_many`/`put_many`) over the `pii_tokens` table."""

    def __init__(
        self,
        engine: Engine,
        sealer: TokenSealer,
        *,
        write_behind: bool,
        cache_entries: int = 100_000,
        flush_seconds: float = 0.05,
        purge_seconds: float = 600.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._engine = engine
        self._local = engine.dialect.name == "sqlite"
        self._upsert = _upsert(engine.dialect.name)
        self._driver = _Driver(engine)
        self._sealer = sealer
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
        with gc_paused():
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
            if self._local and len(missing) <= LOCAL_READ_TOKENS and self._idle_connection():
                rows = self._read(agent, missing, now)
            else:
                rows = await asyncio.to_thread(self._read, agent, missing, now)
            for token, value, expires in rows:
                self._front.put(agent, token, value, expires)
                found[token] = value
        return [found.get(token) for token in tokens]

    async def put_many(self, agent: str, items: Mapping[str, str], ttl: float) -> None:
        if self.write_behind:
            self._behind(agent, items, self.clock() + ttl)
            return
        held = await self._claim_now(agent, items, ttl)
        if held:
            raise TokenConflict(f"token id(s) {', '.join(sorted(held)[:3])} already hold another value")

    async def claim_many(self, agent: str, items: Mapping[str, str], ttl: float) -> set[str]:
        """See `ClaimingTokenVault`. Written before it returns, in one statement per 1,000 tokens;
        or, writing behind, checked (memory, then one SELECT) and written with the next batch:
        on SQLite one transaction for many claims dirties each index page once, where a claim
        of 2,048 tokens at a time, written at once, cost 30-40% more CPU in all
        (bench/vault_stage.py, 23,000 tokens over 200,000)."""
        if self.write_behind:
            return await claim_by_lookup(self, agent, items, ttl)  # its put_many writes behind
        return await self._claim_now(agent, items, ttl)

    async def _claim_now(self, agent: str, items: Mapping[str, str], ttl: float) -> set[str]:
        now = self.clock()
        expires = now + ttl
        rows = [(agent, token, value, expires) for token, value in items.items()]
        held = set(await asyncio.to_thread(self._write, rows, now))
        with gc_paused():
            for _, token, value, _ in rows:
                if token not in held:
                    self._front.put(agent, token, value, expires)
        return held

    def _behind(self, agent: str, items: Mapping[str, str], expires: float) -> None:
        with gc_paused():
            for token, value in items.items():
                self._front.put(agent, token, value, expires)
                self._pending[agent, token] = (value, expires)
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="broker-pii-vault")

    async def close(self) -> None:
        """Stop the background task and write every pending token."""
        if self._task is not None:
            await cancel_and_wait(self._task)
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
            # Not asyncio.wait_for: on Python 3.11 it swallows a cancel that arrives as the event
            # is set (the wait and the cancel in one loop turn), and close() then waited here for
            # purge_seconds (600 s); asyncio.timeout lets the cancel through.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._purge_seconds):
                    await self._wake.wait()
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

    def _idle_connection(self) -> bool:
        pool = self._engine.pool
        return isinstance(pool, QueuePool) and pool.checkedin() > 0

    def _read(self, agent: str, tokens: list[str], now: float) -> list[tuple[str, str, float]]:
        with self._engine.connect() as connection:
            rows = self._driver.select(connection, agent, tokens, now)
        found: list[tuple[str, str, float]] = []
        for token, ciphertext, expires_at in rows:
            try:
                value = self._sealer.open(sealed_name(agent, token), ciphertext)
            except Undecryptable:
                log.warning("a stored PII token of agent %s does not decrypt; it counts as unknown", agent)
                continue
            found.append((token, value, _epoch(expires_at)))
        return found

    def _write(self, rows: list[Row], now: float) -> list[str]:
        """Insert rows, taking over expired ones; refresh live ones that hold the same value.

        Returns the tokens whose live row holds another value (left as they are). Rows go in
        key order: consecutive rows then land in the same pages of the key's index, where random
        tokens would touch a page each (a 200,000-token table on SQLite: a third less time)."""
        with gc_paused():  # thousands of rows and parameters: see broker/pii/nogc.py
            rows = sorted(rows)
            names = [sealed_name(agent, token) for agent, token, _, _ in rows]
            ciphertexts = self._sealer.seal_many(names, [value for _, _, value, _ in rows])
            with self._engine.begin() as connection:
                written = self._driver.upsert(connection, rows, ciphertexts, now)
                if written is None:  # every row
                    return []
                held = [
                    (row, ciphertext)
                    for row, ciphertext in zip(rows, ciphertexts, strict=True)
                    if (row[0], row[1]) not in written
                ]
                return self._settle_held(connection, held, now) if held else []

    def _settle_held(self, connection: Connection, held: list[tuple[Row, bytes]], now: float) -> list[str]:
        """Live rows already there: the same value lives longer, an unreadable one is taken over."""
        table = _TABLE
        stored = connection.execute(
            select(table.c.agent, table.c.token, table.c.ciphertext).where(
                tuple_(table.c.agent, table.c.token).in_([(row[0], row[1]) for row, _ in held])
            )
        )
        ciphertexts = {(agent, token): ciphertext for agent, token, ciphertext in stored}
        conflicts: list[str] = []
        extend: dict[float, list[tuple[str, str]]] = {}
        for (agent, token, value, expires), ciphertext in held:
            row = and_(table.c.agent == agent, table.c.token == token)
            columns = {"ciphertext": ciphertext, "expires_at": _at(expires)}
            if (agent, token) not in ciphertexts:  # purged meanwhile
                fresh = {"agent": agent, "token": token, "now": _at(now), **columns}
                connection.execute(self._upsert, [fresh])
                continue
            try:
                same = self._sealer.open(sealed_name(agent, token), ciphertexts[agent, token]) == value
            except Undecryptable:  # encrypted with a key no longer configured: take it over
                connection.execute(update(table).where(row).values(**columns))
                continue
            if same:
                extend.setdefault(expires, []).append((agent, token))
            else:
                conflicts.append(token)
        for expires, keys in extend.items():  # one statement per expiry (one per batch, mostly)
            for first in range(0, len(keys), _Driver.ROWS):
                longer = and_(
                    tuple_(table.c.agent, table.c.token).in_(keys[first : first + _Driver.ROWS]),
                    table.c.expires_at < _at(expires),
                )
                connection.execute(update(table).where(longer).values(expires_at=_at(expires)))
        return conflicts

    def _purge(self, now: float) -> int:
        with self._engine.begin() as connection:
            result = connection.execute(delete(_TABLE).where(_TABLE.c.expires_at <= _at(now)))
        return int(result.rowcount or 0)

    def __len__(self) -> int:
        """Tokens held in memory (the front and pending writes), for tests and stats."""
        return len(self._front) + len(self._pending)


def _upsert(dialect: str) -> Any:
    """Insert, or take over an expired row; returns (agent, token) of the rows written. One
    statement for a whole batch (executemany), compiled once."""
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(_TABLE)
    return insert.on_conflict_do_update(
        index_elements=[_TABLE.c.agent, _TABLE.c.token],
        set_={"ciphertext": insert.excluded.ciphertext, "expires_at": insert.excluded.expires_at},
        where=_TABLE.c.expires_at <= bindparam("now"),
    ).returning(_TABLE.c.agent, _TABLE.c.token, sort_by_parameter_order=True)


class _Driver:
    """The vault's bulk statements, sent to the database driver as they are.

    Through SQLAlchemy a row cost ~34 µs to write (a parameter dict per row, a datetime bind
    processor per value, RETURNING bookkeeping) and a token ~15 µs to look up (an expanding
    IN list compiled per call). The same SQL, up to 1,000 rows or tokens a statement with the
    driver's own placeholders, costs a few. Times go through the column type's own
    processors, so they are stored (and compared) exactly as SQLAlchemy stores them.
    """

    ROWS = 1000

    def __init__(self, engine: Engine) -> None:
        dialect = engine.dialect
        self._mark = mark = "?" if dialect.paramstyle == "qmark" else "%s"
        table = _TABLE.name  # our own constant: nothing in these statements comes from input
        self._insert = f"INSERT INTO {table} (agent, token, ciphertext, expires_at) VALUES "  # noqa: S608
        self._row = f"({mark}, {mark}, {mark}, {mark})"
        self._upsert_tail = (
            " ON CONFLICT (agent, token) DO UPDATE SET ciphertext = excluded.ciphertext, "
            f"expires_at = excluded.expires_at WHERE {table}.expires_at <= {mark} RETURNING agent, token"
        )
        self._select = (
            f"SELECT token, ciphertext, expires_at FROM {table} "  # noqa: S608
            f"WHERE agent = {mark} AND expires_at > {mark} AND token IN "
        )
        column = _TABLE.c.expires_at.type.dialect_impl(dialect)
        self._bind = column.bind_processor(dialect)
        self._result = column.result_processor(dialect, None)
        self._stamps: dict[float, Any] = {}

    def upsert(
        self, connection: Connection, rows: list[Row], ciphertexts: list[bytes], now: float
    ) -> set[tuple[str, str]] | None:
        """Insert `rows` sealed as `ciphertexts`, taking over expired ones; the (agent, token) of
        the rows written, or None when that is all of them (the usual case: no set made)."""
        returned: list[tuple[str, str]] = []
        at_now = self._stamp(now)
        cursor = connection.connection.cursor()  # the driver's: its rows are plain tuples
        try:
            for first in range(0, len(rows), self.ROWS):
                chunk = rows[first : first + self.ROWS]
                parameters: list[Any] = []
                sealed = ciphertexts[first : first + self.ROWS]
                for (agent, token, _, expires), ciphertext in zip(chunk, sealed, strict=True):
                    parameters += (agent, token, ciphertext, self._stamp(expires))
                parameters.append(at_now)
                cursor.execute(
                    self._insert + ", ".join([self._row] * len(chunk)) + self._upsert_tail, parameters
                )
                returned += cursor.fetchall()
        finally:
            cursor.close()
        return None if len(returned) == len(rows) else set(returned)

    def select(
        self, connection: Connection, agent: str, tokens: list[str], now: float
    ) -> list[tuple[str, bytes, datetime]]:
        """(token, sealed value, expires at) of the live rows of `agent` among `tokens`."""
        found: list[tuple[str, bytes, datetime]] = []
        convert = self._result
        cursor = connection.connection.cursor()
        try:
            for first in range(0, len(tokens), self.ROWS):
                chunk = tokens[first : first + self.ROWS]
                statement = self._select + "(" + ", ".join([self._mark] * len(chunk)) + ")"
                cursor.execute(statement, (agent, self._stamp(now), *chunk))
                for token, ciphertext, stored in cursor.fetchall():
                    expires_at: datetime = stored if convert is None else convert(stored)  # type: ignore[assignment]
                    found.append((token, bytes(ciphertext), expires_at))
        finally:
            cursor.close()
        return found

    def _stamp(self, epoch: float) -> Any:
        """A time as the driver is given it (rows of one batch mostly share their expiry)."""
        stamp = self._stamps.get(epoch)
        if stamp is None:
            if len(self._stamps) > 4096:
                self._stamps.clear()
            at = _at(epoch)
            stamp = self._stamps[epoch] = at if self._bind is None else self._bind(at)
        return stamp


def _at(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def _epoch(value: datetime) -> float:
    return (value if value.tzinfo is not None else value.replace(tzinfo=UTC)).timestamp()
