"""The SQL token vault's writes, each in a thread of its own: a batch of tokens sealed into chunks
and slots in one transaction (broker/pii/sql_driver.py), the slots already there settled (the same
value extended, an expired or unreadable one taken over, another value's named), and the purge.

Writing behind on SQLite the vault writes on a connection of its own, one write at a time (a
cancelled flush's thread may still be writing when the next begins), its slots appended as places
(broker/pii/sql_places.py), and keeps the map of their keys (broker/pii/sql_keymap.py) as it
writes and purges.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Protocol

from sqlalchemy import Connection, Engine

from broker.pii.keys import sealed_name
from broker.pii.nogc import gc_paused
from broker.pii.sealing import TokenSealer
from broker.pii.sql_driver import Driver, Place, Taking, chunked
from broker.pii.sql_keys import token_key_order
from broker.pii.sql_places import Places
from broker.pii.sql_rows import Row, batch_rows
from broker.secrets.keys import Undecryptable

WRITER_PRAGMAS = ("PRAGMA cache_size=-65536",)
"""SQLite writing behind: the vault's own connection for its writes, with a page cache of up to
64 MB (SQLite's default is 2 MB: when the slots were keyed, a 200,000-token vault's key index,
~20 MB, did not fit, so each flush read most of it again; appended, a flush touches the places'
last pages, and a take-over or extension by id a few more). One connection: the pool's stay at
the default size."""


class VaultWrites:
    """What `SqlTokenVault` writes and deletes, called from worker threads."""

    def __init__(self, engine: Engine, driver: Driver, sealer: TokenSealer, places: Places | None) -> None:
        self._engine = engine
        self._driver = driver
        self._sealer = sealer
        self._places = places
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
        places = self._places
        if places is None:
            with self._engine.begin() as connection:
                held = self._driver.write(connection, rows, keys, chunks, now)
                if not held:
                    return []
                return self._settle_held(
                    connection,
                    self._driver,
                    [(rows[at], keys[at], keys[at], place) for at, place in held],
                    now,
                )
        with self._writer_lock:  # the map learns the places appended once they are committed
            writer = self._open_writer()
            with writer.begin():
                appended = places.write(writer, rows, keys, chunks)
                conflicts = (
                    self._settle_held(
                        writer,
                        places,
                        [(rows[at], keys[at], handle, place) for at, place, handle in appended],
                        now,
                    )
                    if appended
                    else []
                )
            places.committed()
        return conflicts

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """No write or purge while in it (the map of places loading: broker/pii/sql_vault.py)."""
        with self._writer_lock:
            yield

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
        self, connection: Connection, slots: Slots, held: list[tuple[Row, int, int | None, Place]], now: float
    ) -> list[str]:
        """Rows whose key a slot already held (their values are in the chunk just written, at
        their place): the same value lives longer, an unreadable or expired one (SQLite's insert
        leaves those) is taken over. A live slot of another (agent, token) under the same key (64
        bits of a hash: ~5 in 10^14 for a new token among a million) holds the token as another
        value would: the issuer lengthens it."""
        stored: dict[tuple[str, str], bytes] = {}
        asked: dict[str, tuple[list[str], list[int | None]]] = {}
        for (agent, token, _, _), _, handle, _ in held:
            tokens, handles = asked.setdefault(agent, ([], []))
            tokens.append(token)
            handles.append(handle)
        for agent, (tokens, handles) in asked.items():
            found = slots.select_held(connection, agent, tokens, handles, now)
            stored.update(((agent, token), sealed) for token, sealed, _, _ in found)
        conflicts: list[str] = []
        extend: dict[float, list[int]] = {}
        expired: list[tuple[Row, int, int | None, Place]] = []
        for (agent, token, value, expires), key, handle, place in held:
            row = (agent, token)
            if row not in stored or handle is None:  # expired (or purged), or its key another pair's
                expired.append(((agent, token, value, expires), key, handle, place))
                continue
            try:
                same = self._sealer.open(sealed_name(agent, token), stored[row]) == value
            except Undecryptable:  # sealed with a key no longer configured: take it over
                slots.replace(connection, handle, place, expires)
                continue
            if same:
                extend.setdefault(expires, []).append(handle)
            else:
                conflicts.append(token)
        for expires, live in extend.items():  # one statement per expiry, mostly one
            slots.extend(connection, live, expires)
        if expired:
            taking = [(key, handle, place, row[3]) for row, key, handle, place in expired]
            taken = slots.take_over(connection, taking, now)
            conflicts += [expired[at][0][1] for at in taken]
        return conflicts

    def purge(self, now: float) -> int:
        """Expired slots, then the chunks no slot points to: scans of the tables (no index on the
        expiry or the chunk: every write paid for it, for a purge every 10 minutes; migrations
        0015, 0017). Writing behind, on the writer connection, and the places deleted leave the
        map once committed, before a flush (under the same lock) can append one of their ids
        again."""
        if self._places is None:
            with self._engine.begin() as connection:
                return self._driver.purge(connection, now)
        with self._writer_lock:
            writer = self._open_writer()
            with writer.begin():
                ids, keys = self._places.purge(writer, now)
            self._places.forget(keys, ids)
        return len(ids)


class Slots(Protocol):
    """What settles a batch's rows whose key a slot held: the keyed table's driver, whose handle
    of a slot is its key, or the places, whose handle is the place's id (None: a row before in
    the batch has the key)."""

    def select_held(
        self, connection: Connection, agent: str, tokens: list[str], handles: list[int | None], now: float
    ) -> list[tuple[str, bytes, float, Place]]: ...

    def extend(self, connection: Connection, handles: list[int], expires: float, /) -> None: ...

    def replace(self, connection: Connection, handle: int, place: Place, expires: float, /) -> None: ...

    def take_over(self, connection: Connection, taking: list[Taking], now: float, /) -> list[int]: ...
