"""The SQL token vault's bulk statements, sent to the database driver as they are.

Through SQLAlchemy a row cost ~34 µs to write (a parameter dict per row, a datetime bind
processor per value, RETURNING bookkeeping) and a token ~15 µs to look up (an expanding IN list
compiled per call). The same SQL, up to 1,000 rows or tokens a statement with the driver's own
placeholders, costs a few. Times go through the column type's own processors, so they are
stored (and compared) exactly as SQLAlchemy stores them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, Table

from broker.pii.sql_keys import token_keys
from broker.pii.sql_rows import Row, row_parameters
from broker.store.models import PiiToken

TABLE: Table = PiiToken.__table__  # type: ignore[assignment]


class Driver:
    """Bulk upsert, lookup and extension of `pii_tokens` rows, a statement per 1,000."""

    ROWS = 1000
    EXACT = 32

    def __init__(self, engine: Engine) -> None:
        dialect = engine.dialect
        self._mark = mark = "?" if dialect.paramstyle == "qmark" else "%s"
        # On SQLite the rows an upsert wrote are counted (sqlite3_changes), not returned: RETURNING
        # cost a fifth of the statement's time (a result row per row, made into Python tuples),
        # for the rare chunk with a live row in the way, which a lookup then names.
        self._returning = dialect.name != "sqlite"
        self._sized = dialect.name == "sqlite"
        table = TABLE.name  # our own constant: nothing in these statements comes from input
        columns = f"{table} (token_key, agent, token, ciphertext, expires_at) VALUES "
        self._insert = "INSERT INTO " + columns
        self._insert_new = "INSERT OR IGNORE INTO " + columns  # SQLite only
        self._row = f"({mark}, {mark}, {mark}, {mark}, {mark})"
        # A row whose key another (agent, token) holds, expired, is taken over whole.
        self._upsert_tail = (
            " ON CONFLICT (token_key) DO UPDATE SET agent = excluded.agent, token = excluded.token, "
            "ciphertext = excluded.ciphertext, "
            f"expires_at = excluded.expires_at WHERE {table}.expires_at <= {mark}"
        ) + (" RETURNING agent, token" if self._returning else "")
        self._select = (
            f"SELECT token, ciphertext, expires_at FROM {table} "  # noqa: S608
            f"WHERE agent = {mark} AND expires_at > {mark} AND token_key IN "
        )
        self._extend = (
            f"UPDATE {table} SET expires_at = {mark} "  # noqa: S608
            f"WHERE agent = {mark} AND expires_at < {mark} AND token_key IN "
        )
        column = TABLE.c.expires_at.type.dialect_impl(dialect)
        self._bind = column.bind_processor(dialect)
        self._result = column.result_processor(dialect, None)
        self._stamps: dict[float, Any] = {}

    def upsert(
        self, connection: Connection, rows: list[Row], keys: list[int], ciphertexts: list[bytes], now: float
    ) -> list[int]:
        """Insert `rows` (their `keys`, broker/pii/sql_keys.py) sealed as `ciphertexts`; the
        positions of the rows not written, mostly none. On PostgreSQL that is `take_over`. On
        SQLite the rows go in with INSERT OR IGNORE and a lookup names those not written, whose
        key any row holds, an expired one too: the caller takes those over with `take_over`. An
        upsert can abort half-way (its update could break a constraint), so SQLite first copied
        each page it changed into a statement journal (a temp file): the flush of 23,000 rows
        over 200,000 cost 7% more CPU at best, 13-16% more at the median."""
        if self._returning:
            return self.take_over(connection, rows, keys, ciphertexts, now)
        held: list[int] = []
        cursor = connection.connection.cursor()
        try:
            for first in range(0, len(rows), self.ROWS):
                chunk = rows[first : first + self.ROWS]
                sealed = ciphertexts[first : first + self.ROWS]
                cursor.execute(
                    self._insert_new + ", ".join([self._row] * len(chunk)),
                    self._values(chunk, keys[first : first + self.ROWS], sealed),
                )
                if cursor.rowcount < len(chunk):
                    held += [first + at for at in self._unwritten(connection, chunk, sealed, now)]
        finally:
            cursor.close()
        return held

    def take_over(
        self, connection: Connection, rows: list[Row], keys: list[int], ciphertexts: list[bytes], now: float
    ) -> list[int]:
        """Insert `rows` (their `keys`) sealed as `ciphertexts`, taking over expired rows under their
        keys (another pair's too); the positions of the rows not written (a live row holds their key)."""
        held: list[int] = []
        at_now = self._stamp(now)
        cursor = connection.connection.cursor()  # the driver's: its rows are plain tuples
        try:
            for first in range(0, len(rows), self.ROWS):
                chunk = rows[first : first + self.ROWS]
                sealed = ciphertexts[first : first + self.ROWS]
                parameters = self._values(chunk, keys[first : first + self.ROWS], sealed)
                parameters.append(at_now)
                cursor.execute(
                    self._insert + ", ".join([self._row] * len(chunk)) + self._upsert_tail, parameters
                )
                if self._returning:
                    returned = cursor.fetchall()
                    if len(returned) < len(chunk):
                        written = set(returned)
                        held += [
                            first + at for at, row in enumerate(chunk) if (row[0], row[1]) not in written
                        ]
                elif cursor.rowcount < len(chunk):
                    held += [first + at for at in self._unwritten(connection, chunk, sealed, now)]
        finally:
            cursor.close()
        return held

    def _values(self, chunk: list[Row], keys: list[int], sealed: list[bytes]) -> list[Any]:
        """The parameters of `chunk`'s rows, in order (broker/pii/sql_rows.py)."""
        return row_parameters(chunk, keys, sealed, self._stamp)

    def _unwritten(
        self, connection: Connection, chunk: list[Row], sealed: list[bytes], now: float
    ) -> list[int]:
        """Positions in `chunk` whose stored row is not the one just written (each ciphertext
        is unique: a random nonce)."""
        stored: dict[tuple[str, str], bytes] = {}
        for agent, tokens in tokens_by_agent(chunk).items():
            stored.update(
                ((agent, token), ciphertext)
                for token, ciphertext, _ in self.select(connection, agent, tokens, now)
            )
        return [
            at
            for at, (row, ciphertext) in enumerate(zip(chunk, sealed, strict=True))
            if stored.get((row[0], row[1])) != ciphertext
        ]

    def select(
        self, connection: Connection, agent: str, tokens: Sequence[str], now: float
    ) -> list[tuple[str, bytes, datetime]]:
        """(token, sealed value, expires at) of the live rows of `agent` among `tokens`, looked up by
        their keys (a row of `agent` under one of those keys with another token comes too: its own,
        never taken for the token asked)."""
        found: list[tuple[str, bytes, datetime]] = []
        convert = self._result
        cursor = connection.connection.cursor()
        try:
            for first, size in self._chunks(len(tokens)):
                chunk = tokens[first : first + size]
                statement = self._select + "(" + ", ".join([self._mark] * len(chunk)) + ")"
                cursor.execute(statement, (agent, self._stamp(now), *token_keys([agent] * len(chunk), chunk)))
                for token, ciphertext, stored in cursor.fetchall():
                    expires_at: datetime = stored if convert is None else convert(stored)  # type: ignore[assignment]
                    found.append((token, bytes(ciphertext), expires_at))
        finally:
            cursor.close()
        return found

    def extend(self, connection: Connection, agent: str, tokens: Sequence[str], expires: float) -> None:
        """Make the rows of `agent` among `tokens` live until `expires` where they end sooner."""
        at = self._stamp(expires)
        cursor = connection.connection.cursor()
        try:
            for first, size in self._chunks(len(tokens)):
                chunk = tokens[first : first + size]
                statement = self._extend + "(" + ", ".join([self._mark] * len(chunk)) + ")"
                cursor.execute(statement, (at, agent, at, *token_keys([agent] * len(chunk), chunk)))
        finally:
            cursor.close()

    def _chunks(self, count: int) -> Iterator[tuple[int, int]]:
        """(first, size) of the statements for `count` tokens, `ROWS` at most each. On SQLite what is
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

    def _stamp(self, epoch: float) -> Any:
        """A time as the driver is given it (rows of one batch mostly share their expiry)."""
        stamp = self._stamps.get(epoch)
        if stamp is None:
            if len(self._stamps) > 4096:
                self._stamps.clear()
            at = at_time(epoch)
            stamp = self._stamps[epoch] = at if self._bind is None else self._bind(at)
        return stamp


def tokens_by_agent(rows: Iterable[Row]) -> dict[str, list[str]]:
    tokens: dict[str, list[str]] = {}
    for agent, token, _, _ in rows:
        tokens.setdefault(agent, []).append(token)
    return tokens


def at_time(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def epoch_of(value: datetime) -> float:
    return (value if value.tzinfo is not None else value.replace(tzinfo=UTC)).timestamp()
