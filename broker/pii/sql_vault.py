"""The token vault in the gateway's database, encrypted, with a memory front.

A write stores each agent's tokens in a chunk (`pii_token_chunks`: a piece per token, its value
sealed with its agent and token) and a slot per token (`pii_token_slots`: its chunk, the piece's
offset and its expiry), keyed by a hash of agent and token (broker/pii/sql_keys.py); the layout
is broker/pii/sql_rows.py's. Slots are only ever inserted, or taken over once expired: a live
token's value never changes. Reads go to the front first, then a SELECT of the slots missing and
one of their chunks, and open only the pieces asked for.

Writes, and what a next call sees:
- SQLite (one instance by design): write-behind. A new token is in a pending map at once, so
  the next call on this instance resolves it; a background task writes pending tokens in
  batches every `flush_seconds`, off the call path, and on shutdown. The front gets a token
  when it is read back, not when it is issued (see `_behind`).
- PostgreSQL (maybe several instances): written before the call returns, a chunk per 250 and one
  statement of slots per 1,000 tokens that also checks them (`claim_many`: only ids already
  there are read back, to compare values), so a next call served by any instance finds it. Set
  BROKER_REDIS_URL to keep tokens in Redis instead (broker/pii/redis_vault.py).
Expired slots, and the chunks no slot points to any more, are deleted every `purge_seconds`.

Writing behind, the vault is the tables' only writer: its slots are places appended under running
ids (`pii_token_places`, broker/pii/sql_places.py), found through the map of their keys it keeps
in memory (broker/pii/sql_keymap.py, loaded before its first read or write): a token whose key is
not there is not stored, so a claim of new tokens asks the database nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence

from sqlalchemy import Connection, Engine
from sqlalchemy.pool import QueuePool

from broker.pii.front import Front, TokenConflict
from broker.pii.keys import sealed_name
from broker.pii.nogc import gc_paused
from broker.pii.sealing import TokenSealer
from broker.pii.sql_driver import Driver, Place
from broker.pii.sql_keymap import KeyMap, new_key_map
from broker.pii.sql_places import Places
from broker.pii.sql_writes import VaultWrites
from broker.secrets.keys import Undecryptable
from broker.tasks import cancel_and_wait

log = logging.getLogger("broker.pii")

LOCAL_READ_TOKENS = 1024
"""On SQLite (a local file, WAL: a read never waits for a writer) a lookup of this many tokens
or fewer is made on the event loop: ~0.1 ms for the ~10 new tokens of a 2 KB result, where the
hop to a worker thread and back cost the loop ~0.17 ms of CPU more; ~1 ms for the ~530 of a
100 KB result, which is masked on the loop anyway (~10 ms), where the hop and a pool checkout
cost ~0.3 ms more (claim of 532 new tokens over 50,000: 1.5-1.8 -> 1.1-1.4 ms). Bigger lookups
(the batches of a result masked off the loop) stay in a thread. On the vault's own reader
connection, kept out of the pool for the loop (as the writer's is): a checkout and its return (a
rollback) cost as much as the SELECT. It is taken only from a pool with a connection idle: a
checkout from a pool whose connections are all out (in threads) waits for one, which must never
happen on the loop. No transaction stays open on it between reads (the driver's SELECTs begin
none), so each read sees what was committed."""


class SqlTokenVault:
    """A `TokenVault` (with `get_many`/`put_many`) over the `pii_token_chunks` / `_slots` tables."""

    def __init__(
        self,
        engine: Engine,
        sealer: TokenSealer,
        *,
        write_behind: bool,
        cache_entries: int = 100_000,
        flush_seconds: float = 0.05,
        gather_seconds: float = 1.0,
        purge_seconds: float = 600.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._engine = engine
        self._local = engine.dialect.name == "sqlite"
        self._driver = Driver(engine)
        self._sealer = sealer
        self.write_behind = write_behind
        self._front = Front(cache_entries)
        self._pending: dict[tuple[str, str], tuple[str, float]] = {}
        self._writing: dict[tuple[str, str], tuple[str, float]] = {}
        self._flush_seconds = flush_seconds
        self._gather_seconds = gather_seconds
        self._purge_seconds = purge_seconds
        self.clock = clock
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._flush_lock = asyncio.Lock()
        self._reader: Connection | None = None
        # SQLite writing behind: the places and the map of their keys, loaded before any use.
        self._keys: KeyMap | None = new_key_map() if self._local and write_behind else None
        self._places = None if self._keys is None else Places(self._driver, self._keys)
        self._writes = VaultWrites(engine, self._driver, sealer, self._places)
        self._keys_loaded = False
        self._loading: asyncio.Task[None] | None = None

    async def get(self, agent: str, token: str) -> str | None:
        return (await self.get_many(agent, [token]))[0]

    async def put(self, agent: str, token: str, value: str, ttl: float) -> None:
        await self.put_many(agent, {token: value}, ttl)

    async def get_many(self, agent: str, tokens: Sequence[str]) -> list[str | None]:
        found = await self._found(agent, tokens)
        return [found.get(token) for token in tokens]

    async def _found(self, agent: str, tokens: Iterable[str]) -> dict[str, str]:
        """The values of those of `tokens` that are stored (or pending), by token."""
        now = self.clock()
        ids: list[int] | None = None
        with gc_paused():
            found, unfound = self._front.get_keyed([(agent, token) for token in tokens], now)
            if unfound and (self._pending or self._writing) and self._any_pending(unfound):
                unknown = []
                for key in unfound:
                    pending = self._pending.get(key) or self._writing.get(key)
                    if pending is not None and pending[1] > now:
                        found[key[1]] = pending[0]
                    else:
                        unknown.append(key)
                unfound = unknown
            missing = [token for _, token in unfound]
        if missing and self._keys is not None:
            if not self._keys_loaded:
                await self._ready()
            positions, ids = self._keys.placed(agent, missing)
            missing = [missing[at] for at in positions]
        if missing:
            if self._local and len(missing) <= LOCAL_READ_TOKENS and self._may_read_here():
                rows = self._read_here(agent, missing, ids, now)
            else:
                rows = await asyncio.to_thread(self._read, agent, missing, ids, now)
            for token, value, expires in rows:
                self._front.put(agent, token, value, expires)
                found[token] = value
        return found

    def _any_pending(self, keys: list[tuple[str, str]]) -> bool:
        """Whether any of the (agent, token) `keys` waits for a flush: a set operation in C, where a
        result's new tokens (none waiting, nearly always) cost two lookups each in a loop."""
        return not (self._pending.keys().isdisjoint(keys) and self._writing.keys().isdisjoint(keys))

    async def put_many(self, agent: str, items: Mapping[str, str], ttl: float) -> None:
        if self.write_behind:
            self._behind(agent, items, self.clock() + ttl)
            return
        held = await self._claim_now(agent, items, ttl)
        if held:
            raise TokenConflict(f"token id(s) {', '.join(sorted(held)[:3])} already hold another value")

    async def claim_many(self, agent: str, items: Mapping[str, str], ttl: float) -> set[str]:
        """See `ClaimingTokenVault`. Written before it returns, in one statement per 1,000 tokens;
        or, writing behind, checked (memory, the map of keys held, then a SELECT of those held)
        and written with the next batch: on SQLite one transaction for many claims, where a claim
        of 2,048 tokens at a time, written at once, cost 30-40% more CPU in all when the slots
        were keyed (bench/vault_stage.py, 23,000 tokens over 200,000: each write dirtied the
        key's index pages again)."""
        if self.write_behind:
            return await self._claim_behind(agent, items, ttl)
        return await self._claim_now(agent, items, ttl)

    async def _claim_behind(self, agent: str, items: Mapping[str, str], ttl: float) -> set[str]:
        """`claim_by_lookup` (broker/pii/vault.py) in one pass less over the tokens: only those
        found are compared, where the lookup listed a value or None for each (a 5 MB result's
        23,000 new tokens: ~1 ms of CPU per MB of result less)."""
        found = await self._found(agent, items)
        with gc_paused():
            # (a row found under a key asked may be another token's: not one of these)
            taken = {token for token, value in found.items() if items.get(token, value) != value}
            free = {token: value for token, value in items.items() if token not in taken} if taken else items
            if free:
                self._behind(agent, free, self.clock() + ttl)
        return taken

    async def _claim_now(self, agent: str, items: Mapping[str, str], ttl: float) -> set[str]:
        now = self.clock()
        expires = now + ttl
        rows = [(agent, token, value, expires) for token, value in items.items()]
        held = set(await asyncio.to_thread(self._writes.rows, rows, now))
        with gc_paused():
            for _, token, value, _ in rows:
                if token not in held:
                    self._front.put(agent, token, value, expires)
        return held

    def _behind(self, agent: str, items: Mapping[str, str], expires: float) -> None:
        """Tokens to write with the next flush, in the pending map only. The front is for tokens
        read back (an agent's arguments resolved, a value seen again once the issuer's memo of it
        is gone): a 100 KB result's ~530 new tokens also put there cost the loop ~0.3 ms (~0.2
        more once the front is full and each evicts one), for entries mostly never read."""
        pending = self._pending
        with gc_paused():
            for token, value in items.items():
                pending[(agent, token)] = (value, expires)
        self._wake.set()

    def start(self) -> None:
        if self._keys is not None:
            self._load_in_background()
        self._task = asyncio.create_task(self._run(), name="broker-pii-vault")

    async def close(self) -> None:
        """Stop the background task and write every pending token."""
        if self._task is not None:
            await cancel_and_wait(self._task)
            self._task = None
        if self._loading is not None:  # its thread would go on reading after a cancel: wait for it
            await asyncio.wait({self._loading})
            self._loading = None
        if self._pending and not await self.flush():
            log.error("database unavailable at shutdown: %d PII tokens not stored", len(self._pending))
        if self._writes.connected:
            await asyncio.to_thread(self._writes.close)
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    async def flush(self) -> bool:
        """Write the pending tokens now; False when the database refused (they stay pending)."""
        async with self._flush_lock:
            if not self._pending:
                return True
            if self._keys is not None and not self._keys_loaded:
                try:
                    await self._ready()
                except Exception:  # logged by the load
                    return False
            # What this flush writes moves aside (still read by get_many) and new tokens gather in
            # a fresh map: no copy of the batch, and no pass over it after, on the event loop.
            batch, self._pending = self._pending, {}
            self._writing = batch
            conflicts: list[str] | None = None
            try:
                conflicts = await asyncio.to_thread(self._writes.batch, batch, self.clock())
            except Exception:
                log.exception("could not store %d PII tokens; will retry", len(batch))
                return False
            finally:
                self._writing = {}
                if conflicts is None:  # refused, or cancelled (its thread goes on): pending again
                    batch.update(self._pending)  # tokens put meanwhile are newer
                    self._pending = batch
            if conflicts:
                log.error("PII token id(s) hold another value in the database: %s", ", ".join(conflicts[:5]))
            return True

    async def purge(self) -> int:
        """Delete expired rows; returns how many."""
        return await asyncio.to_thread(self._writes.purge, self.clock())

    def _load_in_background(self) -> asyncio.Task[None]:
        """Start reading the map of places (`_load_keys`); a failure is logged (and raised to
        whoever waits for it: `_ready`)."""
        loading = asyncio.create_task(asyncio.to_thread(self._load_keys), name="broker-pii-vault-keys")
        loading.add_done_callback(_log_failed_load)
        self._loading = loading
        return loading

    async def _ready(self) -> None:
        """Wait for the map of places (SQLite writing behind): read when the vault starts, or here
        for a vault used unstarted or whose last read failed. The places have no index on their
        key, so without the map nothing is looked up or written (1,000,000 places: ~0.7 s)."""
        loading = self._loading
        if loading is None or (loading.done() and not self._keys_loaded):
            loading = self._load_in_background()
        await asyncio.shield(loading)

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
            await self._gather(backoff)
            backoff = self._flush_seconds if await self.flush() else min(backoff * 2, 30.0)
            if time.monotonic() >= next_purge:
                next_purge = time.monotonic() + self._purge_seconds
                try:
                    await self.purge()
                except Exception:
                    log.exception("could not delete expired PII tokens")
            if self._pending:
                self._wake.set()

    async def _gather(self, first: float) -> None:
        """Wait `first` seconds, then on while tokens keep coming, up to `gather_seconds` in all.

        A big result's tokens come in batches (2,048 a claim) over ~0.2 s: in one transaction
        they cost one commit and each page written once, where a flush every 50 ms wrote the
        places' last pages again for each part (and, when the slots were keyed, most of the
        key's index)."""
        deadline = time.monotonic() + self._gather_seconds
        await asyncio.sleep(first)
        while self._wake.is_set() and time.monotonic() + self._flush_seconds <= deadline:
            self._wake.clear()
            await asyncio.sleep(self._flush_seconds)

    def _load_keys(self) -> None:
        """Every place's key and id into the map (1,000,000 places: ~0.7 s of CPU in this thread,
        and ~50 MB natively), under the writer's lock: no flush or purge meanwhile."""
        assert self._places is not None
        with self._writes.locked(), self._engine.connect() as connection:
            self._places.load(connection)
        self._keys_loaded = True

    def _may_read_here(self) -> bool:
        """The reader is open, or the pool has a connection idle to become it (no wait)."""
        if self._reader is not None:
            return True
        pool = self._engine.pool
        return isinstance(pool, QueuePool) and pool.checkedin() > 0

    def _read_here(
        self, agent: str, tokens: list[str], ids: list[int] | None, now: float
    ) -> list[tuple[str, str, float]]:
        """`_read` on the event loop, on the reader connection (see LOCAL_READ_TOKENS)."""
        if self._reader is None:
            self._reader = self._engine.connect()
        try:
            rows = self._select(self._reader, agent, tokens, ids, now)
        except Exception:
            self._reader.close()  # a connection that failed is not trusted again
            self._reader = None
            raise
        return self._opened(agent, rows)

    def _read(
        self, agent: str, tokens: list[str], ids: list[int] | None, now: float
    ) -> list[tuple[str, str, float]]:
        with self._engine.connect() as connection:
            rows = self._select(connection, agent, tokens, ids, now)
        return self._opened(agent, rows)

    def _select(
        self, connection: Connection, agent: str, tokens: list[str], ids: list[int] | None, now: float
    ) -> list[tuple[str, bytes, float, Place]]:
        """The slots of `tokens` by their keys, or the places `ids` (the map's for them)."""
        if ids is None or self._places is None:
            return self._driver.select(connection, agent, tokens, now)
        return self._places.select(connection, agent, tokens, ids, now)

    def _opened(
        self, agent: str, rows: list[tuple[str, bytes, float, Place]]
    ) -> list[tuple[str, str, float]]:
        found: list[tuple[str, str, float]] = []
        for token, sealed, expires, _ in rows:
            try:
                value = self._sealer.open(sealed_name(agent, token), sealed)
            except Undecryptable:
                log.warning("a stored PII token of agent %s does not decrypt; it counts as unknown", agent)
                continue
            found.append((token, value, expires))
        return found

    @property
    def knows_keys(self) -> bool:
        """The map of places is loaded (writing behind on SQLite, once started)."""
        return self._keys_loaded

    @property
    def unwritten(self) -> int:
        """Tokens not yet in the database (writing behind): pending, or in a flush under way."""
        return len(self._pending) + len(self._writing)

    def __len__(self) -> int:
        """Tokens held in memory (the front and pending writes), for tests and stats."""
        return len(self._front) + len(self._pending) + len(self._writing)


def _log_failed_load(loading: asyncio.Task[None]) -> None:
    if not loading.cancelled() and (error := loading.exception()) is not None:
        log.error(
            "could not read the PII token vault's places; it reads and writes none until it can",
            exc_info=error,
        )
