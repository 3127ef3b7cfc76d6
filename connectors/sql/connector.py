"""SQL connector: read-only tools over SQLite, PostgreSQL and MySQL/MariaDB.

Tools (local names): `list_tables`, `describe_table`, `query` (free-form SQL), and one tool
per named query declared in the config, so an agent can be granted `crm_db.top_customers`
without free-form SQL. Every statement is read-only by construction, in layers:

1. the parser (`connectors.sql.guard`): one SELECT, nothing that writes, locks, changes the
   session or calls a function off the allow-list; the checked tree, re-rendered without
   comments, is the text that runs;
2. the session (`connectors.sql.engine`): bound parameters on a one-statement channel, a
   read-only transaction with statement and lock timeouts, always rolled back;
3. SQLite: read-only file, ATTACH disabled, an authorizer allow-list and a deadline;
4. results bounded to `max_rows` and `max_bytes`, saying when they were cut.

Connect as a role that can only read, so a mistake in any layer meets the database's own
permissions. PostgreSQL (14+)::

    CREATE ROLE broker_reader LOGIN PASSWORD '...' NOSUPERUSER NOCREATEDB NOCREATEROLE;
    GRANT CONNECT ON DATABASE crm TO broker_reader;
    GRANT USAGE ON SCHEMA public TO broker_reader;
    GRANT SELECT ON ALL TABLES IN SCHEMA public TO broker_reader;   -- or: GRANT pg_read_all_data
    ALTER ROLE broker_reader SET default_transaction_read_only = on;

MySQL/MariaDB (no FILE, PROCESS, SUPER or any write privilege)::

    CREATE USER 'broker_reader'@'%' IDENTIFIED BY '...';
    GRANT SELECT, SHOW VIEW ON crm.* TO 'broker_reader'@'%';

SQLite: the file is opened read-only; make it readable but not writable by the broker's user.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import sqlite3
import threading
from collections.abc import Callable, Mapping, Sequence
from contextvars import ContextVar
from typing import Any, NamedTuple, TypeVar

import psycopg
from sqlalchemy import Engine

from connectors.auth import fingerprint
from connectors.base import (
    NO_CONTEXT,
    CallContext,
    ResourceOutput,
    ResourceSpec,
    ResourceTemplateSpec,
    ToolOutput,
    ToolSpec,
)
from connectors.errors import ConnectorError, UnknownTool, UpstreamTimeout
from connectors.sql import resources
from connectors.sql.config import SqlConnectorConfig, param_names
from connectors.sql.engine import (
    DB_ERRORS,
    DIALECTS,
    Kind,
    build_engine,
    connect_error,
    db_error,
    parse_url,
    read_only_session,
)
from connectors.sql.guard import CheckedQuery, Dialect, check_select, render
from connectors.sql.run import PLACEHOLDERS, Limits, bind, run_select
from connectors.sql.schema import describe, list_tables, resolve
from connectors.sql.specs import builtin_spec, named_spec

_T = TypeVar("_T")
log = logging.getLogger(__name__)


class _Database(NamedTuple):
    """A pool and the password it was opened with (to scrub from error messages)."""

    engine: Engine
    password: str | None


class SqlConnector:
    """Read-only tools over one database, through a small connection pool per password.

    The password comes with each call from the broker's secret store (`CallContext`); it is
    added to the connection's credentials when a pool is opened and never appears in the
    config, tool answers or errors. A rotated password gets a fresh pool; the old one closes.
    """

    def __init__(self, config: SqlConnectorConfig) -> None:
        self.config = config
        self._url, self._kind = parse_url(config.url)
        self._dialect = DIALECTS[self._kind]
        self._database = self._url.database
        self._limits = Limits(
            config.max_rows, config.max_bytes, config.statement_timeout_seconds, config.max_recursion
        )
        self._catalogs = config.catalogs()
        self._engines: dict[str | None, Engine] = {}
        style = PLACEHOLDERS[self._kind]
        self._named: dict[str, tuple[tuple[str, ...], str]] = {}
        for query in config.queries:
            checked = self._check(query.sql)
            rendered = render(
                checked, self._dialect, style, row_cap=config.max_rows + 1, max_recursion=config.max_recursion
            )
            self._named[query.name] = (checked.parameters, rendered)
        self._specs = tuple(
            builtin_spec(tool, config, self._kind, self._limits) for tool in config.expose
        ) + tuple(named_spec(query) for query in config.queries)
        self._resources = resources.resource_specs(self)
        self._templates = resources.template_specs(self)

    @property
    def name(self) -> str:
        return self.config.name

    def tools(self) -> Sequence[ToolSpec]:
        return self._specs

    def secret_refs(self) -> frozenset[str]:
        return self.config.password.secret_refs() if self.config.password is not None else frozenset()

    def resources(self) -> Sequence[ResourceSpec]:
        """The table listing (connectors/sql/resources.py)."""
        return self._resources

    def resource_templates(self) -> Sequence[ResourceTemplateSpec]:
        """One table (schema and sample), and each named query with its parameters."""
        return self._templates

    async def read_resource(self, uri: str, context: CallContext = NO_CONTEXT) -> ResourceOutput:
        return await resources.read(self, uri, context)

    # What connectors/sql/resources.py reads through: the same layers as the tools.
    @property
    def kind(self) -> Kind:
        return self._kind

    @property
    def dialect(self) -> Dialect:
        return self._dialect

    @property
    def database_name(self) -> str | None:
        return self._database

    @property
    def limits(self) -> Limits:
        return self._limits

    def named_parameters(self, name: str) -> tuple[str, ...] | None:
        found = self._named.get(name)
        return found[0] if found is not None else None

    async def database(self, context: CallContext) -> _Database:
        password = self.config.password.value(context, self.name) if self.config.password else None
        return await self._database_for(password)

    def inspect(self, db: _Database, look: Callable[[Any], _T]) -> _T:
        return self._inspect(db, look)

    def select(self, db: _Database, sql: str, args: Any, limits: Limits) -> dict[str, Any]:
        return self._select(db, sql, args, limits)

    async def in_thread(self, work: Callable[[], _T]) -> _T:
        return await self._in_thread(work)

    async def call(
        self, tool: str, arguments: Mapping[str, Any], context: CallContext = NO_CONTEXT
    ) -> ToolOutput:
        password = self.config.password.value(context, self.name) if self.config.password else None
        db = await self._database_for(password)
        if tool in self._named:
            names, rendered = self._named[tool]
            args = bind(self._kind, names, arguments)
            return ToolOutput.from_json(
                await self._in_thread(lambda: self._select(db, rendered, args, self._limits))
            )
        if tool not in self.config.expose:
            raise UnknownTool(f"database '{self.name}' has no tool '{tool}'")
        if tool == "list_tables":
            tables = await self._in_thread(
                lambda: self._inspect(db, lambda conn: list_tables(conn, self._kind))
            )
            return ToolOutput.from_json({"tables": [ref.as_json() for ref in tables]})
        if tool == "describe_table":
            table = arguments.get("table")
            if not isinstance(table, str) or not table:
                raise ConnectorError("describe_table needs 'table', a name as list_tables gives it")
            return ToolOutput.from_json(
                await self._in_thread(lambda: self._inspect(db, self._describer(table)))
            )
        sql, values = arguments.get("sql"), arguments.get("parameters") or {}
        if not isinstance(sql, str) or not isinstance(values, Mapping):
            raise ConnectorError("query needs 'sql' (text) and optionally 'parameters' (an object)")
        max_rows = arguments.get("max_rows")
        limits = self._limits
        if isinstance(max_rows, int) and not isinstance(max_rows, bool) and 0 < max_rows < limits.max_rows:
            limits = dataclasses.replace(limits, max_rows=max_rows)
        return ToolOutput.from_json(await self._in_thread(lambda: self._free_query(db, sql, values, limits)))

    async def aclose(self) -> None:
        engines, self._engines = list(self._engines.values()), {}
        for engine in engines:
            await asyncio.to_thread(engine.dispose)

    async def _database_for(self, password: str | None) -> _Database:
        """The pool opened with this password; one opened with an older password is closed."""
        key = fingerprint([password]) if password is not None else None
        engine = self._engines.get(key)
        if engine is None:
            stale = list(self._engines.values())
            engine = build_engine(self._url, self._kind, password=password, timeout=self._limits.timeout)
            self._engines = {key: engine}
            for old in stale:
                await asyncio.to_thread(old.dispose)
        return _Database(engine, password)

    async def __aenter__(self) -> SqlConnector:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def _check(self, sql: str) -> CheckedQuery:
        return check_select(
            sql,
            self._dialect,
            database=self._database,
            allow_catalogs=self._catalogs,
            max_recursion=self._limits.max_recursion,
        )

    def _free_query(
        self, db: _Database, sql: str, values: Mapping[str, Any], limits: Limits
    ) -> dict[str, Any]:
        checked = self._check(sql)
        missing = [name for name in checked.parameters if name not in values]
        unused = [name for name in values if name not in checked.parameters]
        if missing or unused:
            raise ConnectorError(
                f"the SQL binds {param_names(checked.parameters)} but 'parameters' gives "
                f"{param_names(list(values))}; give a value for each :name and nothing else"
            )
        text = render(
            checked,
            self._dialect,
            PLACEHOLDERS[self._kind],
            row_cap=limits.max_rows + 1,
            max_recursion=limits.max_recursion,
        )
        return self._select(db, text, bind(self._kind, checked.parameters, values), limits)

    def _select(self, db: _Database, sql: str, args: Any, limits: Limits) -> dict[str, Any]:
        try:
            raw = db.engine.raw_connection()
        except DB_ERRORS as exc:
            raise connect_error(exc, self.name, limits.timeout, db.password) from None
        running = _RUNNING.get()
        try:
            if running is not None:
                running.started(raw.driver_connection)
            return run_select(raw, self._kind, sql, args, limits).answer()
        except DB_ERRORS as exc:
            raise db_error(exc, self.name, limits.timeout, db.password) from None
        finally:
            if running is not None:
                running.ended()
            raw.close()

    def _inspect(self, db: _Database, look: Callable[[Any], _T]) -> _T:
        timeout = self._limits.timeout
        try:
            conn = db.engine.connect()
        except DB_ERRORS as exc:
            raise connect_error(exc, self.name, timeout, db.password) from None
        try:
            with conn, read_only_session(conn.connection, self._kind, timeout, introspect=True):
                return look(conn)
        except DB_ERRORS as exc:
            raise db_error(exc, self.name, timeout, db.password) from None

    def _describer(self, table: str) -> Callable[[Any], dict[str, Any]]:
        def look(conn: Any) -> dict[str, Any]:
            return describe(conn, resolve(list_tables(conn, self._kind), table, self.name))

        return look

    async def _in_thread(self, work: Callable[[], _T]) -> _T:
        """Run blocking database work in a worker thread, with a backstop beyond the DB's own timeout.

        When the call is cancelled (the client cancelled or went away) the statement in flight is
        cancelled too: PostgreSQL by a cancel request, SQLite by an interrupt. MySQL has no
        thread-safe cancel in PyMySQL; its statement ends at the statement time limit."""
        backstop = self._limits.timeout * 2 + 20
        running = _Running()
        token = _RUNNING.set(running)  # copied into the worker thread by to_thread
        try:
            async with asyncio.timeout(backstop):
                return await asyncio.to_thread(work)
        except TimeoutError:
            raise UpstreamTimeout(f"database '{self.name}' did not answer within {backstop:g} s") from None
        except asyncio.CancelledError:  # cancelling blocks on a round trip: not on the event loop, and
            # not behind the default executor's queue either (its few threads may all be running statements)
            threading.Thread(target=running.cancel, name="sql-cancel", daemon=True).start()
            raise
        finally:
            _RUNNING.reset(token)


class _Running:
    """The driver connection a worker thread is running a statement on, to cancel it from the loop.

    A cancel can be lost: PostgreSQL drops a cancel request that arrives while the backend is
    between the messages of a statement (it is "reading a command"), and SQLite's interrupt
    is a no-op before the statement steps. So `cancel` repeats until the statement has ended.
    """

    def __init__(self) -> None:
        self._connection: Any = None
        self._ended = threading.Event()
        self._cancelled = False

    def started(self, connection: Any) -> None:
        """Called by the worker before the statement; raises if the call was cancelled already."""
        if self._cancelled:
            raise ConnectorError("the call was cancelled before its statement started")
        self._connection = connection

    def ended(self) -> None:
        self._connection = None
        self._ended.set()

    def cancel(self) -> None:
        self._cancelled = True
        for _ in range(_CANCEL_ATTEMPTS):
            conn = self._connection
            if conn is None:
                return
            try:
                if isinstance(conn, psycopg.Connection):
                    conn.cancel_safe(timeout=30.0)
                elif isinstance(conn, sqlite3.Connection):
                    conn.interrupt()
            except Exception:  # the statement may have ended meanwhile: nothing left to cancel
                log.debug("could not cancel a statement in flight", exc_info=True)
            if self._ended.wait(_CANCEL_REPEAT_SECONDS):
                return


_CANCEL_ATTEMPTS = 20
_CANCEL_REPEAT_SECONDS = 0.5

_RUNNING: ContextVar[_Running | None] = ContextVar("sql_running", default=None)
