"""The SQL token vault's bulk statements, sent to the database driver as they are.

Through SQLAlchemy a row cost ~34 µs to write (a parameter dict per row, RETURNING bookkeeping)
and a token ~15 µs to look up (an expanding IN list compiled per call). The same SQL, up to
1,000 slots or tokens a statement with the driver's own placeholders, costs a few. The layout
(a chunk of pieces per write, a slot per token) is broker/pii/sql_rows.py's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from operator import itemgetter
from typing import Any, NamedTuple

from sqlalchemy import Connection, Engine, Table

from broker.pii.sql_keys import token_keys
from broker.pii.sql_rows import CHUNK, Row, micros, piece_at, slot_parameters
from broker.store.models import PiiTokenChunk, PiiTokenPlace, PiiTokenSlot

CHUNKS: Table = PiiTokenChunk.__table__  # type: ignore[assignment]
SLOTS: Table = PiiTokenSlot.__table__  # type: ignore[assignment]
PLACES: Table = PiiTokenPlace.__table__  # type: ignore[assignment]

Place = tuple[int, int]
"""Where a sealed value is: its chunk's id and the piece's offset there."""

Taking = tuple[int, int | None, Place, float]
"""A slot to take over: its key, its handle (the key itself here; a place's id in
broker/pii/sql_places.py, None where the batch had the key before), the new place and expiry."""


class Chunk(NamedTuple):
    """A chunk to write: its agent, the positions of its rows in the batch, its body and the
    offset of each row's piece there."""

    agent: str
    positions: range | list[int]
    body: bytes
    ats: list[int]


def chunked(rows: list[Row], seal: Callable[[list[Row]], tuple[bytes, list[int]]]) -> list[Chunk]:
    """`rows` sealed by `seal` in chunks: each agent's, `CHUNK` at most a chunk."""
    chunks: list[Chunk] = []
    for agent, positions in _by_agent(rows):
        for first in range(0, len(positions), CHUNK):
            block = positions[first : first + CHUNK]
            chunks.append(Chunk(agent, block, *seal(picked(rows, block))))
    return chunks


class Driver:
    """Chunks and slots of `pii_token_chunks` / `pii_token_slots`: written, looked up, extended."""

    ROWS = 1000
    EXACT = 32

    def __init__(self, engine: Engine) -> None:
        dialect = engine.dialect
        self._mark = mark = "?" if dialect.paramstyle == "qmark" else "%s"
        # On SQLite the slots an insert wrote are counted (sqlite3_changes), not returned: RETURNING
        # cost a fifth of the statement's time, for the rare chunk with a live slot in the way,
        # which a lookup then names.
        self._returning = dialect.name != "sqlite"
        self._sized = dialect.name == "sqlite"
        chunks, slots = CHUNKS.name, SLOTS.name  # our own constants: nothing here comes from input
        self._chunk = f"INSERT INTO {chunks} (agent, body) VALUES ({mark}, {mark}) RETURNING id"  # noqa: S608
        columns = f"{slots} (token_key, chunk, at, expires_us) VALUES "
        self._insert = "INSERT INTO " + columns
        self._insert_new = "INSERT OR IGNORE INTO " + columns  # SQLite only
        self._slot = f"({mark}, {mark}, {mark}, {mark})"
        # A slot whose key another (agent, token) holds, expired, is taken over.
        self._upsert_tail = (
            " ON CONFLICT (token_key) DO UPDATE SET chunk = excluded.chunk, at = excluded.at, "
            f"expires_us = excluded.expires_us WHERE {slots}.expires_us <= {mark}"
        ) + (" RETURNING token_key" if self._returning else "")
        self._slots = (
            f"SELECT token_key, chunk, at, expires_us FROM {slots} "  # noqa: S608
            f"WHERE expires_us > {mark} AND token_key IN "
        )
        self._places = f"SELECT token_key, chunk, at FROM {slots} WHERE token_key IN "  # noqa: S608
        self._chunks = f"SELECT id, agent, body FROM {chunks} WHERE id IN "  # noqa: S608
        self._extend = f"UPDATE {slots} SET expires_us = {mark} WHERE expires_us < {mark} AND token_key IN "  # noqa: S608
        self._replace = (
            f"UPDATE {slots} SET chunk = {mark}, at = {mark}, expires_us = {mark} WHERE token_key = {mark}"  # noqa: S608
        )
        self._expired = f"DELETE FROM {slots} WHERE expires_us <= {mark}"  # noqa: S608
        # Chunks no slot or place (SQLite writing behind: broker/pii/sql_places.py) points to.
        # PostgreSQL: anti-joins (NOT IN over a subquery bigger than work_mem is a scan per chunk);
        # SQLite: the subquery's keys in a temporary index once (a correlated NOT EXISTS has no
        # index on the chunk column to use).
        places = PLACES.name
        self._orphans = (
            f"DELETE FROM {chunks} WHERE id NOT IN "  # noqa: S608
            f"(SELECT chunk FROM {slots} UNION ALL SELECT chunk FROM {places})"
            if self._sized
            else f"DELETE FROM {chunks} WHERE NOT EXISTS "  # noqa: S608
            f"(SELECT 1 FROM {slots} WHERE {slots}.chunk = {chunks}.id) AND NOT EXISTS "
            f"(SELECT 1 FROM {places} WHERE {places}.chunk = {chunks}.id)"
        )

    def write(
        self, connection: Connection, rows: list[Row], keys: list[int], chunks: list[Chunk], now: float
    ) -> list[tuple[int, Place]]:
        """Store `chunks` of `rows` (their `keys`, broker/pii/sql_keys.py) and a slot for each row.
        Returns the positions of the rows whose slot was not written, mostly none (a slot held
        their key), with where their value is. On PostgreSQL an expired slot is taken over; on
        SQLite the slots go in with INSERT OR IGNORE and the caller takes over expired ones with
        `take_over` (an upsert can abort half-way, so SQLite first copied each page it changed
        into a statement journal: 7-16% more CPU)."""
        held: list[tuple[int, Place]] = []
        cursor = connection.connection.cursor()  # the driver's: its rows are plain tuples
        try:
            written = ((chunk, self.insert_chunk(cursor, chunk)) for chunk in chunks)
            for group in grouped(written, self.ROWS):
                held += self._slots_of(connection, cursor, rows, keys, group, now)
        finally:
            cursor.close()
        return held

    def insert_chunk(self, cursor: Any, chunk: Chunk) -> int:
        """Insert `chunk` with the driver's `cursor`; its id."""
        cursor.execute(self._chunk, (chunk.agent, chunk.body))
        chunk_id: int = cursor.fetchall()[0][0]
        return chunk_id

    def _slots_of(
        self,
        connection: Connection,
        cursor: Any,
        rows: list[Row],
        keys: list[int],
        group: list[tuple[Chunk, int]],
        now: float,
    ) -> list[tuple[int, Place]]:
        """Insert the slots of the rows in `group`'s chunks (and their ids), one statement; the
        positions of those not written, with where their value is."""
        group_keys, parameters = group_parameters(rows, keys, group)
        values = (self._insert if self._returning else self._insert_new) + ", ".join(
            [self._slot] * len(group_keys)
        )
        if self._returning:
            parameters.append(micros(now))
            cursor.execute(values + self._upsert_tail, parameters)
        else:
            cursor.execute(values, parameters)

        def places() -> list[Place]:
            return [(chunk_id, at) for chunk, chunk_id in group for at in chunk.ats]

        unwritten = self._not_written(connection, cursor, group_keys, places)
        if not unwritten:
            return []
        positions = [at for chunk, _ in group for at in chunk.positions]
        located = places()
        return [(positions[at], located[at]) for at in unwritten]

    def select_held(
        self, connection: Connection, agent: str, tokens: list[str], handles: list[int | None], now: float
    ) -> list[tuple[str, bytes, float, Place]]:
        """`select`: a slot's handle is its key (broker/pii/sql_writes.py settles both layouts)."""
        return self.select(connection, agent, tokens, now)

    def take_over(self, connection: Connection, taking: list[Taking], now: float) -> list[int]:
        """Point the slots of `taking`'s keys at their places until their expiry, where no slot
        holds the key or an expired one does (another pair's too); the positions not written (a
        live slot holds their key)."""
        held: list[int] = []
        cursor = connection.connection.cursor()
        try:
            for first in range(0, len(taking), self.ROWS):
                block = taking[first : first + self.ROWS]
                parameters: list[int] = []
                for key, _, (chunk, at), until in block:
                    parameters += (key, chunk, at, micros(until))
                parameters.append(micros(now))
                cursor.execute(
                    self._insert + ", ".join([self._slot] * len(block)) + self._upsert_tail, parameters
                )
                places = [place for _, _, place, _ in block]
                unwritten = self._not_written(
                    connection, cursor, [key for key, _, _, _ in block], places.copy
                )
                held += [first + at for at in unwritten]
        finally:
            cursor.close()
        return held

    def _not_written(
        self, connection: Connection, cursor: Any, keys: list[int], places: Callable[[], list[Place]]
    ) -> list[int]:
        """Positions among `keys` whose slot the statement just run did not write (PostgreSQL: the
        keys it returned; SQLite: when it changed fewer slots, those not pointing to their
        `places`)."""
        if self._returning:
            written = {key for (key,) in cursor.fetchall()}
            if len(written) == len(keys):
                return []
            return [at for at, key in enumerate(keys) if key not in written]
        if cursor.rowcount >= len(keys):
            return []
        stored = dict(self._placed(connection, keys))
        wanted = places()
        return [at for at, key in enumerate(keys) if stored.get(key) != wanted[at]]

    def _placed(self, connection: Connection, keys: Sequence[int]) -> Iterator[tuple[int, Place]]:
        cursor = connection.connection.cursor()
        try:
            for first, size in self.statements(len(keys)):
                block = keys[first : first + size]
                cursor.execute(self._places + self.marks(len(block)), tuple(block))
                for key, chunk, at in cursor.fetchall():
                    yield key, (chunk, at)
        finally:
            cursor.close()

    def select(
        self, connection: Connection, agent: str, tokens: Sequence[str], now: float
    ) -> list[tuple[str, bytes, float, Place]]:
        """(token, sealed value, expires, place) of the live tokens of `agent` among `tokens`, looked
        up by their keys; each chunk read once. A slot under one of those keys holding another
        agent's or token's piece (or none) is never taken for the token asked."""
        keys = token_keys([agent] * len(tokens), tokens)
        wanted: dict[int, str | list[str]] = {}
        for key, token in zip(keys, tokens, strict=True):
            there = wanted.setdefault(key, token)
            if there != token:  # two tokens asked under one key (a test's hand-made rows)
                wanted[key] = [*([there] if isinstance(there, str) else there), token]
        slots: list[tuple[int, int, int, int]] = []
        cursor = connection.connection.cursor()
        try:
            at_now = micros(now)
            for first, size in self.statements(len(keys)):
                block = keys[first : first + size]
                cursor.execute(self._slots + self.marks(len(block)), (at_now, *block))
                slots += cursor.fetchall()
            if not slots:
                return []
            return self.pieces(cursor, agent, slots, wanted)
        finally:
            cursor.close()

    def pieces(
        self,
        cursor: Any,
        agent: str,
        slots: list[tuple[int, int, int, int]],
        wanted: Mapping[int, str | list[str]],
    ) -> list[tuple[str, bytes, float, Place]]:
        """(token, sealed value, expires, place) of the (handle, chunk, offset, expiry) `slots`
        whose piece is `agent`'s and holds the token `wanted` under their handle; each chunk read
        once, with the driver's `cursor`."""
        ids = sorted({chunk for _, chunk, _, _ in slots})
        bodies: dict[int, bytes] = {}
        for first, size in self.statements(len(ids)):
            block = ids[first : first + size]
            cursor.execute(self._chunks + self.marks(len(block)), tuple(block))
            bodies.update((chunk, bytes(body)) for chunk, owner, body in cursor.fetchall() if owner == agent)
        found: list[tuple[str, bytes, float, Place]] = []
        for handle, chunk, at, expires in slots:
            body = bodies.get(chunk)
            piece = None if body is None else piece_at(body, at)
            if piece is None:
                continue
            token, sealed = piece
            asked = wanted.get(handle)
            if token == asked or (isinstance(asked, list) and token in asked):
                found.append((token, sealed, expires / 1_000_000, (chunk, at)))
        return found

    def extend(self, connection: Connection, keys: Sequence[int], expires: float) -> None:
        """Make the slots of `keys` live until `expires` where they end sooner."""
        until = micros(expires)
        cursor = connection.connection.cursor()
        try:
            for first, size in self.statements(len(keys)):
                block = keys[first : first + size]
                cursor.execute(self._extend + self.marks(len(block)), (until, until, *block))
        finally:
            cursor.close()

    def replace(self, connection: Connection, key: int, place: Place, expires: float) -> None:
        """Point the slot of `key` at `place` until `expires`, whatever it held."""
        connection.exec_driver_sql(self._replace, (place[0], place[1], micros(expires), key))

    def purge(self, connection: Connection, now: float) -> int:
        """Delete the expired slots, then the chunks no slot points to; how many slots."""
        cursor = connection.connection.cursor()
        try:
            cursor.execute(self._expired, (micros(now),))
            deleted = int(cursor.rowcount)
            self.delete_orphans(cursor)
        finally:
            cursor.close()
        return deleted

    def delete_orphans(self, cursor: Any) -> None:
        """Delete the chunks no slot or place points to any more."""
        cursor.execute(self._orphans)

    def marks(self, count: int) -> str:
        """A parenthesised list of `count` placeholders."""
        return "(" + ", ".join([self._mark] * count) + ")"

    def statements(self, count: int) -> Iterator[tuple[int, int]]:
        """(first, size) of the statements for `count` keys, `ROWS` at most each. On SQLite what is
        left after the full ones goes in power-of-two sizes down to `EXACT` (532: 512 and 20), so
        each size's statement is compiled once and then reused from the driver's statement cache:
        an IN list of a size seen once was compiled for that one use, ~0.4 µs a token. The few
        small sizes (a 2 KB result's lookup) are cached as they are: one statement, not three.
        PostgreSQL parses on the server, where a statement more is a round trip more: one
        statement per `ROWS` there."""
        first = 0
        while first < count:
            size = min(self.ROWS, count - first)
            if self._sized and self.EXACT < size < self.ROWS:
                size = 1 << (size.bit_length() - 1)
            yield first, size
            first += size


def grouped(written: Iterable[tuple[Chunk, int]], rows: int) -> Iterator[list[tuple[Chunk, int]]]:
    """Chunks `written` (with their ids) in groups of `rows` rows or just more, each group as soon
    as it is whole (its slots in one statement), the last with what is left."""
    group: list[tuple[Chunk, int]] = []
    count = 0
    for chunk, chunk_id in written:
        group.append((chunk, chunk_id))
        count += len(chunk.positions)
        if count >= rows:
            yield group
            group, count = [], 0
    if group:
        yield group


def group_parameters(
    rows: list[Row], keys: list[int], group: list[tuple[Chunk, int]]
) -> tuple[list[int], list[Any]]:
    """The keys of the rows in `group`'s chunks (with their ids), and their slots' parameters
    (key, chunk, offset, expiry) in one list: an INSERT's."""
    parameters: list[Any] = []
    group_keys: list[int] = []
    for chunk, chunk_id in group:
        chunk_keys = picked(keys, chunk.positions)
        parameters += slot_parameters(chunk_keys, chunk_id, chunk.ats, picked(rows, chunk.positions))
        group_keys += chunk_keys
    return group_keys, parameters


def picked(items: list[Any], positions: range | list[int]) -> list[Any]:
    """`items` at `positions` (a slice, for a range)."""
    if isinstance(positions, range):
        return items[positions.start : positions.stop]
    return [items[at] for at in positions]


def _by_agent(rows: list[Row]) -> list[tuple[str, range | list[int]]]:
    """The positions of each agent's rows, in order (mostly one agent: all of them, as a range)."""
    if not rows:
        return []
    # Loops in C: a generator over a flush's 30,000 rows cost ~2 ms, these ~1.
    agents = list(map(itemgetter(0), rows))
    first = agents[0]
    if agents.count(first) == len(agents):
        return [(first, range(len(rows)))]
    positions: dict[str, list[int]] = {}
    for at, agent in enumerate(agents):
        positions.setdefault(agent, []).append(at)
    return list(positions.items())
