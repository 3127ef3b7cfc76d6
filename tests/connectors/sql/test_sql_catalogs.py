"""SQL sources show data, not the database's secrets: system catalogs are refused unless the
operator names them, and recursive CTEs are bounded by the gateway on every dialect (real
PostgreSQL, MariaDB and SQLite)."""

from __future__ import annotations

import pytest

from connectors.sql.connector import SqlConnector
from connectors.sql.guard import QueryRefused
from tests.connectors.sql.conftest import Database, make_config
from tests.connectors.sql.test_sql_tools import answer

CATALOGS = {
    "postgresql": [
        "SELECT usename, usesuper FROM pg_user",
        "SELECT rolname FROM pg_roles",
        "SELECT rolname FROM pg_catalog.pg_roles",
        "SELECT rolpassword FROM pg_authid",
        "SELECT name, setting FROM pg_settings",
        "SELECT datname FROM pg_database",
        "SELECT * FROM pg_stat_activity",
        "SELECT grantee, privilege_type FROM information_schema.table_privileges",
        "SELECT * FROM information_schema.enabled_roles",
        "SELECT c.name FROM customers c JOIN pg_roles r ON r.rolname = c.name",
    ],
    "mysql": [
        "SELECT * FROM information_schema.user_privileges",
        "SELECT * FROM information_schema.schema_privileges",
        "SELECT schema_name FROM information_schema.schemata",
        "SELECT user, host FROM mysql.user",
        "SELECT * FROM performance_schema.threads",
        "SELECT * FROM customers WHERE name IN (SELECT grantee FROM information_schema.user_privileges)",
    ],
    "sqlite": [
        "SELECT sql FROM sqlite_master",
        "SELECT sql FROM sqlite_schema",
        "SELECT sql FROM main.sqlite_master",
        "SELECT * FROM sqlite_temp_master",
        "WITH s AS (SELECT * FROM sqlite_master) SELECT * FROM s",
    ],
}
ALLOWED = {
    "postgresql": (
        "information_schema.columns",
        "SELECT column_name FROM information_schema.columns LIMIT 1",
    ),
    "mysql": ("information_schema.tables", "SELECT table_name FROM information_schema.tables LIMIT 1"),
    "sqlite": ("sqlite_master", "SELECT name FROM sqlite_master WHERE type = 'table' LIMIT 1"),
}
ENDLESS = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT count(*) AS c FROM n"
ENDLESS_READ_TWICE = (
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n), m AS (SELECT i FROM n AS x) "
    "SELECT count(*) FROM m JOIN n ON n.i = m.i"
)
ENDLESS_NESTED = (
    "SELECT count(*) FROM (WITH RECURSIVE t(v) AS (SELECT 1 UNION ALL SELECT v + 1 FROM t) SELECT v FROM t) s"
)


async def test_system_catalogs_are_refused_and_the_own_schema_stays_visible(db: Database) -> None:
    async with SqlConnector(make_config(db)) as connector:
        for sql in CATALOGS[db.kind]:
            with pytest.raises(
                QueryRefused, match=r"system catalog|credentials or server internals"
            ) as caught:
                await connector.call("query", {"sql": sql})
            assert "allow_catalogs" in caught.value.message or "credentials" in caught.value.message, sql
        tables = await answer(connector, "list_tables", {})
        assert {"customers", "deals"} <= {t["name"].rsplit(".", 1)[-1] for t in tables["tables"]}
        described = await answer(connector, "describe_table", {"table": "customers"})
        assert "email" in {c["name"] for c in described["columns"]}


async def test_an_operator_can_allow_a_catalog_by_name(db: Database) -> None:
    name, sql = ALLOWED[db.kind]
    async with SqlConnector(make_config(db, allow_catalogs=[name])) as connector:
        assert (await answer(connector, "query", {"sql": sql}))["row_count"] == 1
        with pytest.raises(QueryRefused, match=r"system catalog|credentials"):  # only the one named
            await connector.call("query", {"sql": next(q for q in CATALOGS[db.kind] if name not in q)})


async def test_recursive_ctes_are_bounded_by_the_gateway(db: Database) -> None:
    config = make_config(db, max_recursion=50, statement_timeout_seconds=1)
    async with SqlConnector(config) as connector:
        if db.kind == "mysql":  # our bound on the session (MariaDB stops there), not the server's 1000
            result = await answer(connector, "query", {"sql": ENDLESS})
            assert result["rows"] == [[51]] and result["truncated_reason"] == "max_recursion"
        else:  # SQLite and PostgreSQL: the CTE stops at our bound, long before the statement timeout
            assert (await answer(connector, "query", {"sql": ENDLESS}))["rows"] == [[50]]
            for sql in (ENDLESS_READ_TWICE, ENDLESS_NESTED):
                assert (await answer(connector, "query", {"sql": sql}))["rows"] == [[50]], sql
        bounded = (
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20) SELECT i FROM n"
        )
        assert (await answer(connector, "query", {"sql": bounded}))["row_count"] == 20
    async with SqlConnector(make_config(db, max_recursion=0)) as connector:
        with pytest.raises(QueryRefused, match=r"turned off for this connector \(max_recursion: 0\)"):
            await connector.call("query", {"sql": ENDLESS})
