"""The SQLite vault's slots writing behind (`pii_token_places`, migration 0018): appended under
running ids and found through the vault's map of keys (broker/pii/sql_keymap.py), so a flush's
inserts land at the end of the table's B-tree whatever the vault holds; the chunks are the
driver's (broker/pii/sql_driver.py). The vault is the table's only writer, and writes one flush
at a time on its writer connection.

A place's id is SQLite's rowid, given by the insert (one larger than the largest, row by row:
the ids of a statement's rows follow on from the last one's, which the driver's `lastrowid`
tells); the map learns them once their flush is committed, so it never holds a place a
rolled-back flush gave out.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection

from broker.pii.sql_driver import PLACES, Chunk, Driver, Place, Taking, group_parameters, grouped
from broker.pii.sql_keymap import KeyMap
from broker.pii.sql_rows import Row, micros

Held = tuple[int, Place, int | None]
"""A row of a batch whose key a place already holds: its position, where its value was just
written, and that place's id (None for a key a row before it in the batch has: no place yet)."""


class Places:
    """Places of `pii_token_places`: appended, looked up by id, extended, taken over, purged."""

    ROWS = 1000

    def __init__(self, driver: Driver, keys: KeyMap) -> None:
        self._driver = driver
        self._keys = keys
        # keys and first ids of the places the transaction under way appended, for the map once
        # committed
        self._appended: list[tuple[list[int], int]] = []
        places = PLACES.name  # our own constant: nothing here comes from input
        self._insert = f"INSERT INTO {places} (token_key, chunk, at, expires_us) VALUES "  # noqa: S608
        self._row = "(?, ?, ?, ?)"
        self._last = f"SELECT max(id) FROM {places}"  # noqa: S608
        self._select = f"SELECT id, chunk, at, expires_us FROM {places} WHERE expires_us > ? AND id IN "  # noqa: S608
        self._extend = f"UPDATE {places} SET expires_us = ? WHERE expires_us < ? AND id IN "  # noqa: S608
        self._take = f"UPDATE {places} SET chunk = ?, at = ?, expires_us = ? WHERE id = ? AND expires_us <= ?"  # noqa: S608
        self._replace = f"UPDATE {places} SET chunk = ?, at = ?, expires_us = ? WHERE id = ?"  # noqa: S608
        self._expired = f"DELETE FROM {places} WHERE expires_us <= ? RETURNING id, token_key"  # noqa: S608
        self._all = f"SELECT id, token_key FROM {places}"  # noqa: S608

    def write(
        self, connection: Connection, rows: list[Row], keys: list[int], chunks: list[Chunk]
    ) -> list[Held]:
        """Store `chunks` of `rows` (their `keys`) and append a place for each row whose key no place
        holds; the rows whose key one holds (mostly none), with where their value is now."""
        self._appended = []
        new, held, ids, repeated = self._keys.split(keys)
        cursor = connection.connection.cursor()
        try:
            placed = [(chunk, self._driver.insert_chunk(cursor, chunk)) for chunk in chunks]
            if not held and not repeated:  # all new (nearly always): the chunks' rows as they are
                for group in grouped(placed, self.ROWS):
                    self._run_append(cursor, *group_parameters(rows, keys, group))
                return []
            where = _places(placed, len(rows))
            for first in range(0, len(new), self.ROWS):
                block = new[first : first + self.ROWS]
                self._append(
                    cursor,
                    [keys[at] for at in block],
                    [where[at] for at in block],
                    [rows[at][3] for at in block],
                )
        finally:
            cursor.close()
        return [(at, where[at], place) for at, place in zip(held, ids, strict=True)] + [
            (at, where[at], None) for at in repeated
        ]

    def _append(self, cursor: Any, keys: list[int], places: list[Place], expires: list[float]) -> None:
        parameters: list[int] = []
        for key, (chunk, at), until in zip(keys, places, expires, strict=True):
            parameters += (key, chunk, at, micros(until))
        self._run_append(cursor, keys, parameters)

    def _run_append(self, cursor: Any, keys: list[int], parameters: list[Any]) -> None:
        """One INSERT of the places of `keys`; their ids noted for the map."""
        cursor.execute(self._last)
        last = cursor.fetchall()[0][0] or 0
        cursor.execute(self._insert + ", ".join([self._row] * len(keys)), parameters)
        if cursor.lastrowid != last + len(keys):  # ids not following on: never seen, but check
            raise RuntimeError("SQLite gave the vault's places ids out of order; the flush is rolled back")
        self._appended.append((keys, last + 1))

    def load(self, connection: Connection) -> None:
        """Every place's key and id into the map, 50,000 at a time."""
        cursor = connection.connection.cursor()
        try:
            cursor.execute(self._all)
            while rows := cursor.fetchmany(50_000):
                self._keys.add([key for _, key in rows], [place for place, _ in rows])
        finally:
            cursor.close()

    def committed(self) -> None:
        """The places appended by the transaction just committed, into the map."""
        for keys, first in self._appended:
            self._keys.add_run(keys, first)
        self._appended = []

    def forget(self, keys: list[int], ids: list[int]) -> None:
        """Places deleted (`purge`, committed) out of the map, where it still has them."""
        self._keys.discard(keys, ids)

    def select(
        self, connection: Connection, agent: str, tokens: Sequence[str], ids: Sequence[int], now: float
    ) -> list[tuple[str, bytes, float, Place]]:
        """(token, sealed value, expires, place) of the live tokens of `agent` among `tokens`, in
        the places `ids` (the map's for them); a place holding another agent's or token's piece
        (or none) is never taken for the token asked."""
        wanted: dict[int, str | list[str]] = {}
        for place, token in zip(ids, tokens, strict=True):
            there = wanted.setdefault(place, token)
            if there != token:  # two tokens under one key
                wanted[place] = [*([there] if isinstance(there, str) else there), token]
        places: list[tuple[int, int, int, int]] = []
        unique = list(wanted)
        cursor = connection.connection.cursor()
        try:
            at_now = micros(now)
            for first, size in self._driver.statements(len(unique)):
                block = unique[first : first + size]
                cursor.execute(self._select + self._driver.marks(len(block)), (at_now, *block))
                places += cursor.fetchall()
            if not places:
                return []
            return self._driver.pieces(cursor, agent, places, wanted)
        finally:
            cursor.close()

    def extend(self, connection: Connection, ids: Sequence[int], expires: float) -> None:
        """Make the places `ids` live until `expires` where they end sooner."""
        until = micros(expires)
        cursor = connection.connection.cursor()
        try:
            for first, size in self._driver.statements(len(ids)):
                block = ids[first : first + size]
                cursor.execute(self._extend + self._driver.marks(len(block)), (until, until, *block))
        finally:
            cursor.close()

    def replace(self, connection: Connection, place_id: int, place: Place, expires: float) -> None:
        """Point the place `place_id` at `place` until `expires`, whatever it held."""
        connection.exec_driver_sql(self._replace, (place[0], place[1], micros(expires), place_id))

    def select_held(
        self, connection: Connection, agent: str, tokens: list[str], handles: list[int | None], now: float
    ) -> list[tuple[str, bytes, float, Place]]:
        """`select` of the places `handles` (None: none yet) hold for `tokens`."""
        known = [(token, handle) for token, handle in zip(tokens, handles, strict=True) if handle is not None]
        return self.select(
            connection, agent, [token for token, _ in known], [place for _, place in known], now
        )

    def take_over(self, connection: Connection, taking: list[Taking], now: float) -> list[int]:
        """Point each place of `taking` at its new place until its expiry where it expired; the
        positions not written (a live place holds their key, or a row before them in the batch
        had it: no handle)."""
        taken: list[int] = []
        cursor = connection.connection.cursor()
        try:
            for at, (_, place_id, (chunk, offset), until) in enumerate(taking):
                if place_id is None:
                    taken.append(at)
                    continue
                cursor.execute(self._take, (chunk, offset, micros(until), place_id, micros(now)))
                if not cursor.rowcount:
                    taken.append(at)
        finally:
            cursor.close()
        return taken

    def purge(self, connection: Connection, now: float) -> tuple[list[int], list[int]]:
        """Delete the expired places, then the chunks nothing points to; the places' ids and keys,
        for the map once committed."""
        cursor = connection.connection.cursor()
        try:
            cursor.execute(self._expired, (micros(now),))
            deleted = cursor.fetchall()
            self._driver.delete_orphans(cursor)
        finally:
            cursor.close()
        return [place for place, _ in deleted], [key for _, key in deleted]


def _places(placed: list[tuple[Chunk, int]], count: int) -> list[Place]:
    """Where each of `count` rows' value is in the chunks `placed` (their ids)."""
    where: list[Place] = [(0, 0)] * count
    for chunk, chunk_id in placed:
        for at, offset in zip(chunk.positions, chunk.ats, strict=True):
            where[at] = (chunk_id, offset)
    return where
