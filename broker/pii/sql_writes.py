"""The SQL token vault's writes, each in a thread of its own: a batch of tokens sealed into chunks
and slots in one transaction (broker/pii/sql_driver.py), the slots already there settled (the same
value extended, an expired or unreadable one taken over, another value's named), and the purge.

Writing behind on SQLite the vault writes on a connection of its own, one write at a time (a
cancelled flush's thread may still be writing when the next begins), and keeps the record of the
keys the slots table holds (broker/pii/sql_keyset.py) as it writes and purges.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

from sqlalchemy import Connection, Engine

from broker.pii.keys import sealed_name
from broker.pii.nogc import gc_paused
from broker.pii.sealing import TokenSealer
from broker.pii.sql_driver import Driver, Place, chunked
from broker.pii.sql_keys import token_key_order
from broker.pii.sql_keyset import KeySet
from broker.pii.sql_rows import Row, batch_rows
from broker.secrets.keys import Undecryptable

WRITER_PRAGMAS = ("PRAGMA cache_size=-65536",)
"""SQLite writing behind: the vault's own connection for its writes, with a page cache of up to
64 MB (SQLite's default is 2 MB, which a 200,000-token vault's key index, ~20 MB, does not fit, so
each flush read most of it again). One connection: the pool's stay at the default size."""


class VaultWrites:
    """What `SqlTokenVault` writes and deletes, called from worker threads."""

    def __init__(
        self, engine: Engine, driver: Driver, sealer: TokenSealer, keys: KeySet | None, *, own_writer: bool
    ) -> None:
        self._engine = engine
        self._driver = driver
        self._sealer = sealer
        self._keys = keys
        self._own_writer = own_writer
        self._writer: Connection | None = None
        self._writer_lock = threading.Lock()

    @property
    def connected(self) -> bool:
        """The writer connection is open (SQLite writing behind, once it has written)."""
        return self._writer is not None

    def batch(self, batch: dict[tuple[str, str], tuple[str, float]], now: float) -> list[str]:
        with gc_paused():  # thousands of rows and parameters: see broker/pii/nogc.py
            keys, rows = batch_rows(batch)  # in key order (see `rows`)
            return self._ordered(rows, keys, now)

    def rows(self, rows: list[Row], now: float) -> list[str]:
        """Insert rows, taking over expired ones; refresh live ones that hold the same value.

        Returns the tokens whose live row holds another value (left as they are). Rows go in
        key order (`token_key`, broker/pii/sql_keys.py): consecutive rows then land in the same
        pages of the key's index, where random tokens would touch a page each (a 200,000-token
        table on SQLite: a third less time)."""
        with gc_paused():
            keys, order = token_key_order([row[0] for row in rows], [row[1] for row in rows])
            rows = [rows[at] for at in order]
            return self._ordered(rows, keys, now)

    def _ordered(self, rows: list[Row], keys: list[int], now: float) -> list[str]:
        """`rows` in the order of their `keys`. Called with the collector paused from before the
        rows were made: re-enabled in between, it ran at the next allocation over all of them
        (~7% of a 30,000-token flush)."""
        chunks = chunked(rows, self._sealer.seal_chunk)
        with self._transaction() as connection:
            if self._keys is not None:  # before the commit: a key there too soon costs a SELECT
                self._keys.add(keys)
            held = self._driver.write(connection, rows, keys, chunks, now)
            if not held:
                return []
            return self._settle_held(connection, [(rows[at], keys[at], place) for at, place in held], now)

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[Connection]:
        """A transaction on the writer connection (SQLite writing behind: only the flush, one
        at a time, writes) or on one from the pool."""
        if not self._own_writer:
            with self._engine.begin() as connection:
                yield connection
            return
        with self._writer_lock:  # a cancelled flush's thread may still be writing
            writer = self._open_writer()
            with writer.begin():
                yield writer

    def _open_writer(self) -> Connection:
        """The writer connection (SQLite writing behind), opened when first needed; under the lock."""
        if self._writer is None:
            self._writer = self._engine.connect()
            for pragma in WRITER_PRAGMAS:
                self._writer.exec_driver_sql(pragma)
            self._writer.commit()
        return self._writer

    def close(self) -> None:
        with self._writer_lock:
            if self._writer is not None:
                self._writer.close()
                self._writer = None

    def _settle_held(
        self, connection: Connection, held: list[tuple[Row, int, Place]], now: float
    ) -> list[str]:
        """Rows whose key a slot already held (their values are in the chunk just written, at
        their place): the same value lives longer, an unreadable or expired one (SQLite's insert
        leaves those) is taken over. A live slot of another (agent, token) under the same key (64
        bits of a hash: ~5 in 10^14 for a new token among a million) holds the token as another
        value would: the issuer lengthens it."""
        stored: dict[tuple[str, str], bytes] = {}
        tokens: dict[str, list[str]] = {}
        for (agent, token, _, _), _, _ in held:
            tokens.setdefault(agent, []).append(token)
        for agent, asked in tokens.items():
            found = self._driver.select(connection, agent, asked, now)
            stored.update(((agent, token), sealed) for token, sealed, _, _ in found)
        conflicts: list[str] = []
        extend: dict[float, list[int]] = {}
        expired: list[tuple[Row, int, Place]] = []
        for (agent, token, value, expires), key, place in held:
            row = (agent, token)
            if row not in stored:  # expired (or purged meanwhile), or its key held by another pair
                expired.append(((agent, token, value, expires), key, place))
                continue
            try:
                same = self._sealer.open(sealed_name(agent, token), stored[row]) == value
            except Undecryptable:  # sealed with a key no longer configured: take it over
                self._driver.replace(connection, key, place, expires)
                continue
            if same:
                extend.setdefault(expires, []).append(key)
            else:
                conflicts.append(token)
        for expires, keys in extend.items():  # one statement per expiry, mostly one
            self._driver.extend(connection, keys, expires)
        if expired:
            taken = self._driver.take_over(
                connection,
                [key for _, key, _ in expired],
                [place for _, _, place in expired],
                [row[3] for row, _, _ in expired],
                now,
            )
            conflicts += [expired[at][0][1] for at in taken]
        return conflicts

    def purge(self, now: float) -> int:
        """Expired slots, then the chunks no slot points to: scans of the tables (no index on the
        expiry or the chunk: every write paid for it, for a purge every 10 minutes; migrations
        0015, 0017). Writing behind, on the writer connection, and the keys deleted leave the key
        set once committed, before a flush (under the same lock) can put one of them back."""
        if self._keys is None:
            with self._engine.begin() as connection:
                return self._driver.purge(connection, now)
        with self._writer_lock:
            writer = self._open_writer()
            with writer.begin():
                deleted = self._driver.purge_keys(writer, now)
            self._keys.discard(deleted)
        return len(deleted)
