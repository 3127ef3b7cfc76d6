"""Running a checked SELECT: bound parameters, bounded rows and bytes, JSON-safe values.

Statements always go with their parameters over a channel that runs one statement only:
psycopg's extended protocol (`RawCursor.stream` forces it, even without parameters),
PyMySQL without CLIENT_MULTI_STATEMENTS, and sqlite3's single-statement `execute`. Rows
are streamed and read up to `max_rows + 1` (the rendered SQL also carries that LIMIT when it
had none or a larger literal one), so a huge result never lands in memory; what is left is
cancelled (PostgreSQL), read and dropped within the time limit (MySQL) or never stepped (SQLite).

Values in results: NULL, booleans, integers and text as JSON; floats as numbers (NaN and
infinities as the strings "NaN", "Infinity", "-Infinity"); DECIMAL/NUMERIC as strings, which
keeps every digit; dates, times and timestamps as ISO 8601 text; intervals as ISO 8601
durations; binary as base64 text; arrays as lists; JSON columns as JSON; anything else as
its text.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import math
import uuid
from collections.abc import Generator, Iterable, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal, cast

import psycopg
from pymysql.cursors import SSCursor
from sqlalchemy.pool import PoolProxiedConnection

from connectors.errors import ConnectorError
from connectors.sql.engine import DB_ERRORS, Kind, read_only_session
from connectors.sql.guard import PlaceholderStyle

PLACEHOLDERS: dict[Kind, PlaceholderStyle] = {
    "postgresql": "numeric",
    "mysql": "pyformat",
    "sqlite": "qmark",
}
"""How `connectors.sql.guard.render` writes parameters for each driver."""

TruncatedReason = Literal["max_rows", "max_bytes", "max_recursion"]
SCALAR_TYPES = (str, int, float, bool, type(None))


@dataclass(frozen=True, slots=True)
class Limits:
    max_rows: int
    max_bytes: int
    timeout: float
    max_recursion: int = 10_000


@dataclass(frozen=True, slots=True)
class Rows:
    columns: list[str]
    rows: list[list[Any]]
    truncated: TruncatedReason | None

    def answer(self) -> dict[str, Any]:
        """The JSON object every query-like tool returns."""
        return {
            "columns": self.columns,
            "rows": self.rows,
            "row_count": len(self.rows),
            "truncated": self.truncated is not None,
            "truncated_reason": self.truncated,
        }


def bind(kind: Kind, names: Sequence[str], values: Mapping[str, Any]) -> Any:
    """Driver arguments for `render`ed SQL: a list ($n, ?n) or a dict (%(pn)s); None if no parameters."""
    for name in names:
        if not isinstance(values.get(name), SCALAR_TYPES):
            raise ConnectorError(
                f"parameter '{name}' must be a string, number, boolean or null, "
                f"not {type(values[name]).__name__}"
            )
    ordered = [values.get(name) for name in names]
    if kind == "mysql":
        return {f"p{i}": value for i, value in enumerate(ordered, start=1)} if ordered else None
    return ordered


def run_select(raw: PoolProxiedConnection, kind: Kind, sql: str, args: Any, limits: Limits) -> Rows:
    """Run one rendered SELECT in a read-only session on `raw` (a pooled connection)."""
    with read_only_session(raw, kind, limits.timeout, max_recursion=limits.max_recursion) as conn:
        if kind == "postgresql":
            with psycopg.RawCursor(conn) as pg_cursor:
                stream = cast("Generator[Any, None, None]", pg_cursor.stream(sql, args))
                with closing(stream):
                    rows, truncated = _collect(stream, limits)
                    description = pg_cursor.description
                if description is None:  # stream() keeps no description when there are no rows
                    pg_cursor.execute(sql, args, prepare=True)
                    description = pg_cursor.description
                return Rows(_columns(description), rows, truncated)
        if kind == "mysql":
            my_cursor = conn.cursor(SSCursor)
            my_cursor.execute(sql, args)
            rows, truncated = _collect(iter(my_cursor.fetchone, None), limits)
            columns = _columns(my_cursor.description)
            try:
                my_cursor.close()  # reads what is left unread; max_statement_time bounds it
                if truncated is None and _recursion_stopped(conn):
                    truncated = "max_recursion"
            except DB_ERRORS:
                raw.invalidate()
            return Rows(columns, rows, truncated)
        lite_cursor = conn.execute(sql, args)
        try:
            rows, truncated = _collect(lite_cursor, limits)
            return Rows(_columns(lite_cursor.description), rows, truncated)
        finally:
            lite_cursor.close()


_RECURSION_STOPPED = 1931
"""MariaDB's warning when a recursive CTE reached max_recursive_iterations: the rows are incomplete."""


def _recursion_stopped(conn: Any) -> bool:
    """Whether MariaDB cut a recursive CTE short at the connector's `max_recursion` (a warning,
    not an error: without this the agent would take a partial answer for a whole one)."""
    result = getattr(conn, "_result", None)
    if not getattr(result, "warning_count", 0):
        return False
    with conn.cursor() as cursor:
        cursor.execute("SHOW WARNINGS")
        return any(row[1] == _RECURSION_STOPPED for row in cursor.fetchall())


def _collect(
    source: Iterable[Sequence[Any]], limits: Limits
) -> tuple[list[list[Any]], TruncatedReason | None]:
    rows: list[list[Any]] = []
    size = 2
    for row in source:
        if len(rows) >= limits.max_rows:
            return rows, "max_rows"
        values = [json_value(value) for value in row]
        size += len(json.dumps(values, ensure_ascii=False, separators=(",", ":")).encode()) + 1
        if size > limits.max_bytes:
            return rows, "max_bytes"
        rows.append(values)
    return rows, None


def _columns(description: Sequence[Sequence[Any]] | None) -> list[str]:
    return [str(column[0]) for column in description or ()]


def json_value(value: Any) -> Any:
    """A database value as JSON (see the module docstring for the mapping)."""
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return _duration(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, list | tuple):
        return [json_value(item) for item in value]
    if isinstance(value, set | frozenset):
        return sorted(str(item) for item in value)
    if isinstance(value, dict):
        return {str(key): json_value(item) for key, item in value.items()}
    return str(value)


def _duration(value: dt.timedelta) -> str:
    sign = "-" if value < dt.timedelta(0) else ""
    value = abs(value)
    seconds = f"{value.seconds}.{value.microseconds:06d}".rstrip("0").rstrip(".")
    return f"{sign}P{value.days}DT{seconds}S"
