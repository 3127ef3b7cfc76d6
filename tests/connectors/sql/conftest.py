"""Real databases for the SQL connector: a scratch PostgreSQL and MariaDB database per session
and a SQLite file, each holding the same small CRM schema, with a superuser handle to look at
them from outside the connector."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pymysql
import pytest

from connectors.sql.config import SqlConnectorConfig
from connectors.sql.connector import SqlConnector

POSTGRES_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"
MARIADB_HOST, MARIADB_PORT = "127.0.0.1", 3306
KINDS = ("sqlite", "postgresql", "mysql")

CUSTOMERS = [
    (1, "Acme Corp", "ops@acme.example", "US", "125000.50", "2024-01-15 09:30:00"),
    (2, "Globex", "hello@globex.example", "DE", "98000.00", "2024-02-01 14:00:00"),
    (3, "Initech", None, "US", "43000.25", "2024-03-10 08:15:00"),
    (4, "Zoë Café SARL", "bonjour@zoe.example", "FR", "15500.00", "2024-04-22 17:45:00"),
    (5, "Umbrella", "info@umbrella.example", "GB", None, "2024-05-05 11:00:00"),
]
CONTACTS = [
    (1, 1, "Wile E. Coyote", "+1 555 0100"),
    (2, 1, "Road Runner", None),
    (3, 2, "Hank Scorpio", "+49 30 1234"),
    (4, 3, "Bill Lumbergh", "+1 555 0199"),
    (5, 4, "Zoë Martin", "+33 1 23 45"),
]
DEALS = [
    (1, 1, "Anvils, bulk", "50000.00", "won", "2024-02-01"),
    (2, 1, "Rocket skates", "12500.00", "open", None),
    (3, 2, "Doomsday device", "98000.00", "won", "2024-03-15"),
    (4, 3, "TPS reports", "3000.25", "lost", "2024-04-01"),
    (5, 3, "Stapler upgrade", "40000.00", "open", None),
    (6, 4, "Espresso machines", "15500.00", "won", "2024-05-30"),
    (7, 5, "Vaccine research", "250000.00", "open", None),
]

SCHEMA = [
    """CREATE TABLE customers (
        id INTEGER PRIMARY KEY,
        name VARCHAR(100) NOT NULL,
        email VARCHAR(200),
        country CHAR(2) NOT NULL,
        revenue NUMERIC(12, 2),
        created_at TIMESTAMP NOT NULL
    )""",
    """CREATE TABLE contacts (
        id INTEGER PRIMARY KEY,
        customer_id INTEGER NOT NULL REFERENCES customers (id),
        name VARCHAR(100) NOT NULL,
        phone VARCHAR(50)
    )""",
    """CREATE TABLE deals (
        id INTEGER PRIMARY KEY,
        customer_id INTEGER NOT NULL REFERENCES customers (id),
        title VARCHAR(200) NOT NULL,
        amount NUMERIC(12, 2) NOT NULL,
        stage VARCHAR(20) NOT NULL,
        closed_on DATE
    )""",
    "CREATE VIEW open_deals AS SELECT id, customer_id, title, amount FROM deals WHERE stage = 'open'",
]


@dataclass
class Database:
    """One scratch database: its URL for the connector and a superuser view from outside."""

    kind: str
    url: str
    query: Callable[[str], list[tuple[Any, ...]]]

    def scalar(self, sql: str) -> Any:
        return self.query(sql)[0][0]

    def snapshot(self) -> dict[str, Any]:
        """What an attack must leave unchanged: tables, rows, sums, sequences, side state."""
        state: dict[str, Any] = {
            "tables": self.tables(),
            "rows": {
                t: self.query(f"SELECT * FROM {t} ORDER BY id") for t in ("customers", "contacts", "deals")
            },
        }
        if self.kind == "postgresql":
            state["sequence"] = self.scalar("SELECT last_value FROM invoice_seq")
            state["large_objects"] = self.scalar("SELECT count(*) FROM pg_largeobject_metadata")
            # This database's only: a gateway of a parallel test holds one while it migrates its own.
            state["advisory_locks"] = self.scalar(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            )
            state["roles"] = self.query("SELECT rolname, rolsuper FROM pg_roles ORDER BY rolname")
        if self.kind == "mysql":
            state["sequence"] = self.scalar("SELECT next_not_cached_value FROM invoice_seq")
            state["lock"] = self.scalar("SELECT IS_USED_LOCK('broker_attack')")
            state["users"] = self.query("SELECT user, host FROM mysql.user ORDER BY user, host")
        return state

    def tables(self) -> list[str]:
        if self.kind == "sqlite":
            rows = self.query("SELECT name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY name")
        elif self.kind == "postgresql":
            rows = self.query(
                "SELECT schemaname || '.' || relname FROM pg_stat_all_tables "
                "WHERE schemaname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') ORDER BY 1"
            )
        else:
            rows = self.query(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE()"
            )
        return sorted(str(row[0]) for row in rows)


def _seed(execute: Callable[[str, tuple[Any, ...]], object], kind: str) -> None:
    for statement in SCHEMA:
        execute(statement, ())
    mark = "?" if kind == "sqlite" else "%s"
    for table, rows in (("customers", CUSTOMERS), ("contacts", CONTACTS), ("deals", DEALS)):
        for row in rows:
            execute(f"INSERT INTO {table} VALUES ({', '.join([mark] * len(row))})", row)
    if kind != "sqlite":
        execute("CREATE SEQUENCE invoice_seq", ())


@pytest.fixture(scope="session")
def sqlite_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    path: Path = tmp_path_factory.mktemp("sql") / "crm.db"
    with sqlite3.connect(path) as conn:
        _seed(conn.execute, "sqlite")
    conn.close()

    def query(sql: str) -> list[tuple[Any, ...]]:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as c:
            rows = c.execute(sql).fetchall()
        c.close()
        return rows

    yield Database("sqlite", f"sqlite:///{path}", query)


@pytest.fixture(scope="session")
def postgresql_db() -> Iterator[Database]:
    name = f"broker_sql_{uuid.uuid4().hex[:10]}"
    try:
        admin = psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.fail(f"the SQL connector tests need PostgreSQL at {POSTGRES_ADMIN_URL}, unreachable: {exc}")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            url = f"postgresql://postgres@127.0.0.1:5432/{name}"
            with psycopg.connect(url, autocommit=True) as conn:
                _seed(lambda sql, params: conn.execute(sql, params or None), "postgresql")
                conn.execute("CREATE SCHEMA sales")
                conn.execute("CREATE TABLE sales.targets (quarter TEXT PRIMARY KEY, goal NUMERIC(12, 2))")
                conn.execute("INSERT INTO sales.targets VALUES ('2024Q1', 100000)")
            with psycopg.connect(url, autocommit=True) as reader:

                def query(sql: str) -> list[tuple[Any, ...]]:
                    return reader.execute(sql).fetchall()

                yield Database("postgresql", url, query)
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def mysql_db() -> Iterator[Database]:
    name = f"broker_sql_{uuid.uuid4().hex[:10]}"
    try:
        admin = pymysql.connect(
            host=MARIADB_HOST, port=MARIADB_PORT, user="root", connect_timeout=5, autocommit=True
        )
    except pymysql.err.OperationalError as exc:
        pytest.fail(
            f"the SQL connector tests need MariaDB at {MARIADB_HOST}:{MARIADB_PORT}, unreachable: {exc}"
        )
    with admin:
        admin.cursor().execute(f"CREATE DATABASE `{name}`")
        try:
            admin.select_db(name)
            _seed(lambda sql, params: admin.cursor().execute(sql, params or None), "mysql")

            def query(sql: str) -> list[tuple[Any, ...]]:
                with admin.cursor() as cur:
                    cur.execute(sql)
                    return list(cur.fetchall())

            yield Database("mysql", f"mysql+pymysql://root@{MARIADB_HOST}:{MARIADB_PORT}/{name}", query)
        finally:
            admin.cursor().execute(f"DROP DATABASE IF EXISTS `{name}`")


@pytest.fixture(params=KINDS)
def db(request: pytest.FixtureRequest) -> Database:
    """Each test body runs on SQLite, PostgreSQL and MariaDB."""
    database: Database = request.getfixturevalue(f"{request.param}_db")
    return database


def make_config(db: Database, **overrides: Any) -> SqlConnectorConfig:
    fields: dict[str, Any] = {"kind": "sql", "name": "crm_db", "url": db.url, "statement_timeout_seconds": 2}
    return SqlConnectorConfig.model_validate({**fields, **overrides})


@pytest.fixture
async def connector(db: Database) -> AsyncIterator[SqlConnector]:
    async with SqlConnector(make_config(db)) as conn:
        yield conn
