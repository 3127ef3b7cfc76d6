"""Connections for the SQL connector: URLs, pooled engines, read-only sessions, error mapping.

`read_only_session` wraps every database call (queries and schema lookups alike):
- PostgreSQL: `SET TRANSACTION READ ONLY` first in the transaction, then `SET LOCAL`
  statement_timeout, lock_timeout, idle_in_transaction_session_timeout and
  standard_conforming_strings=on (so string literals mean what the parser read); rolled back.
- MySQL/MariaDB: session max_statement_time (MariaDB) or max_execution_time (MySQL), the
  connector's recursion bound (max_recursive_iterations / cte_max_recursion_depth),
  innodb_lock_wait_timeout and lock_wait_timeout, `SET SESSION TRANSACTION READ ONLY` (DDL
  commits implicitly and would otherwise run outside the read-only transaction), then
  `START TRANSACTION READ ONLY`; rolled back. Connections never have CLIENT_MULTI_STATEMENTS or LOCAL INFILE.
- SQLite: the file is opened `mode=ro` with `query_only` on and ATTACH limited to zero
  databases; an authorizer allows only SELECT, reads, recursive CTEs and allow-listed
  functions, and a progress handler aborts the statement at the deadline.
"""

from __future__ import annotations

import math
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

import psycopg
import pymysql
from pymysql.constants import CLIENT
from sqlalchemy import create_engine, event
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.pool import PoolProxiedConnection, QueuePool

from connectors.errors import ConnectorError, UpstreamError, UpstreamTimeout, UpstreamUnreachable
from connectors.scrub import scrubber
from connectors.sql.functions import SQLITE_FUNCTIONS
from connectors.sql.guard import Dialect, QueryRefused

Kind = Literal["postgresql", "mysql", "sqlite"]
DIALECTS: dict[Kind, Dialect] = {"postgresql": "postgres", "mysql": "mysql", "sqlite": "sqlite"}
_DRIVERS = {"postgresql": ("psycopg",), "mysql": ("pymysql", "mysqldb"), "mariadb": ("pymysql", "mysqldb")}
DB_ERRORS: tuple[type[BaseException], ...] = (
    ConnectorError,
    DBAPIError,
    PoolTimeout,
    psycopg.Error,
    pymysql.err.MySQLError,
    sqlite3.Error,
    OSError,
)
"""What database work may raise besides programming errors; `db_error` maps each for the agent."""
_CONNECT_TIMEOUT = 10
_POOL_SIZE = 4
_INTROSPECTION_PRAGMAS = frozenset(
    {"table_info", "table_xinfo", "index_list", "index_info", "index_xinfo", "foreign_key_list"}
)


def parse_url(value: str) -> tuple[URL, Kind]:
    """Validate a SQLAlchemy URL for this connector; return it with its driver pinned.

    Raises ValueError with a message for the operator.
    """
    try:
        url = make_url(value)
    except (ArgumentError, ValueError) as exc:
        raise ValueError(f"is not a SQLAlchemy URL: {exc}") from None
    backend, driver = url.get_backend_name(), url.get_driver_name()
    if url.password is not None:
        raise ValueError("must not contain a password; the broker supplies it from its secret store")
    if backend == "sqlite":
        if not url.database or url.database == ":memory:" or url.database.startswith("file:"):
            raise ValueError("must name a SQLite file: sqlite:///relative/path.db or sqlite:////abs/path.db")
        if url.query or driver != "pysqlite":
            raise ValueError("takes no driver or options for SQLite: the file is always opened read-only")
        return url, "sqlite"
    if backend not in _DRIVERS or driver not in _DRIVERS[backend]:
        raise ValueError(
            "must be sqlite:///..., postgresql[+psycopg]://... or mysql[+pymysql]://... "
            f"(mariadb[+pymysql] also works); got {backend}+{driver}"
        )
    if not url.host or not url.database:
        raise ValueError("must name a host and a database")
    if backend == "postgresql":
        return url.set(drivername="postgresql+psycopg"), "postgresql"
    return url.set(drivername=f"{backend}+pymysql"), "mysql"


def build_engine(url: URL, kind: Kind, *, password: str | None, timeout: float) -> Engine:
    """A small pool of connections; nothing connects until first use."""
    pool: dict[str, Any] = {
        "poolclass": QueuePool,
        "pool_size": _POOL_SIZE,
        "max_overflow": 0,
        "pool_timeout": timeout + _CONNECT_TIMEOUT,
        "pool_pre_ping": kind != "sqlite",
    }
    if kind == "sqlite":
        uri = Path(url.database or "").absolute().as_uri() + "?mode=ro"
        return create_engine("sqlite+pysqlite://", creator=lambda: _sqlite_connect(uri, timeout), **pool)
    if password is not None:
        url = url.set(password=password)
    if kind == "postgresql":
        args: dict[str, Any] = {"connect_timeout": _CONNECT_TIMEOUT, "application_name": "tool-broker"}
        return create_engine(url, connect_args=args, **pool)
    args = {
        "connect_timeout": _CONNECT_TIMEOUT,
        "read_timeout": math.ceil(timeout) + _CONNECT_TIMEOUT,
        "write_timeout": math.ceil(timeout) + _CONNECT_TIMEOUT,
        "client_flag": CLIENT.FOUND_ROWS,
        "local_infile": False,
    }
    engine = create_engine(url, connect_args=args, **pool)
    event.listen(engine, "connect", _refuse_multi_statements)
    return engine


def _sqlite_connect(uri: str, timeout: float) -> sqlite3.Connection:
    conn = sqlite3.connect(uri, uri=True, timeout=timeout, check_same_thread=False)
    conn.execute("PRAGMA query_only = ON")
    conn.setlimit(sqlite3.SQLITE_LIMIT_ATTACHED, 0)
    return conn


def _refuse_multi_statements(dbapi_connection: Any, _record: Any) -> None:
    if dbapi_connection.client_flag & (CLIENT.MULTI_STATEMENTS | CLIENT.LOCAL_FILES):
        dbapi_connection.close()
        raise ConnectorError("the MySQL connection allows multiple statements or LOCAL INFILE; refusing")


@contextmanager
def read_only_session(
    raw: PoolProxiedConnection,
    kind: Kind,
    timeout: float,
    *,
    introspect: bool = False,
    max_recursion: int = 10_000,
) -> Iterator[Any]:
    """The driver connection inside a read-only, time-limited transaction, rolled back after."""
    conn: Any = raw.driver_connection
    if kind == "sqlite":
        deadline = time.monotonic() + timeout
        conn.set_authorizer(_authorizer(introspect))
        conn.set_progress_handler(lambda: time.monotonic() > deadline, 1000)
        try:
            yield conn
        finally:
            conn.set_authorizer(None)
            conn.set_progress_handler(None, 0)
        return
    ms = max(1, math.ceil(timeout * 1000))
    if kind == "postgresql":
        if not isinstance(conn, psycopg.Connection) or conn.autocommit:
            raise ConnectorError("the PostgreSQL connection is not a psycopg connection in a transaction")
        with conn.cursor() as cur:
            cur.execute(
                "SET TRANSACTION READ ONLY; "
                f"SET LOCAL statement_timeout = {ms}; SET LOCAL lock_timeout = {ms}; "
                f"SET LOCAL idle_in_transaction_session_timeout = {ms + 60_000}; "
                "SET LOCAL standard_conforming_strings = on"
            )
    else:
        if not isinstance(conn, pymysql.connections.Connection):
            raise ConnectorError("the MySQL connection is not a PyMySQL connection")
        seconds = max(1, math.ceil(timeout))
        mariadb = "mariadb" in str(getattr(conn, "server_version", "")).lower()
        recursion = max(1, int(max_recursion))
        limit = (
            f"max_statement_time = {timeout:.3f}, max_recursive_iterations = {recursion}"
            if mariadb
            else f"max_execution_time = {ms}, cte_max_recursion_depth = {recursion}"
        )
        with conn.cursor() as cur:
            cur.execute(
                f"SET SESSION {limit}, innodb_lock_wait_timeout = {seconds}, lock_wait_timeout = {seconds}"
            )
            cur.execute("SET SESSION TRANSACTION READ ONLY")  # DDL commits implicitly, then meets this
            cur.execute("START TRANSACTION READ ONLY")
    try:
        yield conn
    finally:
        if raw.is_valid:
            try:
                conn.rollback()
            except DB_ERRORS:
                raw.invalidate()


def _authorizer(introspect: bool) -> Callable[[int, str | None, str | None, str | None, str | None], int]:
    allowed = {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_RECURSIVE}

    def authorize(action: int, arg1: str | None, arg2: str | None, _db: str | None, _src: str | None) -> int:
        if action in allowed:
            return sqlite3.SQLITE_OK
        if action == sqlite3.SQLITE_FUNCTION and (arg2 or "").lower() in SQLITE_FUNCTIONS:
            return sqlite3.SQLITE_OK
        if introspect and action == sqlite3.SQLITE_PRAGMA and (arg1 or "").lower() in _INTROSPECTION_PRAGMAS:
            return sqlite3.SQLITE_OK
        return sqlite3.SQLITE_DENY

    return authorize


def db_error(exc: BaseException, name: str, timeout: float, secret: str | None) -> ConnectorError:
    """Turn a driver or pool exception into the connector error the agent sees."""
    if isinstance(exc, ConnectorError):
        return exc
    if isinstance(exc, PoolTimeout):
        return UpstreamTimeout(f"database '{name}' is busy: no connection came free in time")
    original = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    text = _first_line(original, secret)
    slow = f"database '{name}' cancelled the query: it ran longer than {timeout:g} s ({text})"
    if isinstance(original, psycopg.errors.QueryCanceled):
        return UpstreamTimeout(slow)
    if isinstance(original, psycopg.errors.LockNotAvailable):
        return UpstreamTimeout(f"database '{name}': the query waited too long for a lock ({text})")
    if isinstance(original, psycopg.errors.ReadOnlySqlTransaction):
        return QueryRefused(f"query refused by the database (read-only transaction): {text}")
    if isinstance(original, pymysql.err.MySQLError) and original.args:
        code = original.args[0]
        if code in (1969, 3024, 1317):  # max_statement_time / max_execution_time exceeded
            return UpstreamTimeout(slow)
        if code == 1205:
            return UpstreamTimeout(f"database '{name}': the query waited too long for a lock ({text})")
        if code == 1792:
            return QueryRefused(f"query refused by the database (read-only transaction): {text}")
        if code in (2002, 2003, 2006, 2013, 1045, 1049):
            return UpstreamUnreachable(f"database '{name}' is unreachable: {text}")
    if isinstance(original, sqlite3.Error):
        if "interrupted" in text:
            return UpstreamTimeout(f"database '{name}' stopped the query: it ran longer than {timeout:g} s")
        if "not authorized" in text or "prohibited" in text:
            return QueryRefused(f"query refused by the SQLite authorizer: {text}")
        if "unable to open" in text:
            return UpstreamUnreachable(f"database '{name}' cannot be opened: {text}")
    if isinstance(original, psycopg.OperationalError) and original.sqlstate is None:
        return UpstreamUnreachable(f"database '{name}' is unreachable: {text}")
    return UpstreamError(f"database '{name}' answered with an error: {text}")


def connect_error(exc: BaseException, name: str, timeout: float, secret: str | None) -> ConnectorError:
    """The error for a failure to get a connection at all."""
    if isinstance(exc, PoolTimeout | ConnectorError):
        return db_error(exc, name, timeout, secret)
    original = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    return UpstreamUnreachable(f"database '{name}' is unreachable: {_first_line(original, secret)}")


def _first_line(exc: BaseException, secret: str | None) -> str:
    if isinstance(exc, pymysql.err.MySQLError) and len(exc.args) >= 2:
        text = str(exc.args[1])
    else:
        text = str(exc) or type(exc).__name__
    text = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    return scrubber(secret).text(text)[:500] if secret else text[:500]
