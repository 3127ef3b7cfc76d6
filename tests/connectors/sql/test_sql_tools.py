"""The SQL connector's tools on SQLite, PostgreSQL and MariaDB: the same test bodies on each."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from connectors.auth import MissingCredential
from connectors.base import CallContext
from connectors.errors import ConnectorError, UnknownTool, UpstreamError, UpstreamTimeout, UpstreamUnreachable
from connectors.sql.connector import SqlConnector
from connectors.sql.guard import QueryRefused
from tests.connectors.sql.conftest import CUSTOMERS, Database, make_config

TOP_CUSTOMERS = {
    "name": "top_customers",
    "description": "Customers with the highest revenue, optionally in one country.",
    "sql": "SELECT name, country, revenue FROM customers "
    "WHERE country = COALESCE(:country, country) AND revenue IS NOT NULL "
    "ORDER BY revenue DESC LIMIT :limit",
    "parameters": {
        "type": "object",
        "properties": {
            "country": {"type": ["string", "null"], "minLength": 2, "maxLength": 2},
            "limit": {"type": "integer", "minimum": 1, "maximum": 50},
        },
        "required": ["country", "limit"],
        "additionalProperties": False,
    },
}


def table(db: Database, name: str) -> str:
    return f"public.{name}" if db.kind == "postgresql" else name


def money(db: Database, text: str) -> str | float:
    """DECIMAL values come back as exact strings; SQLite has no DECIMAL and stores a REAL."""
    return float(text) if db.kind == "sqlite" else text


async def answer(connector: SqlConnector, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    output = await connector.call(tool, arguments)
    assert output.structured is not None and not output.is_error
    return dict(output.structured)


async def test_tools_are_listed_read_only_with_schemas(connector: SqlConnector) -> None:
    specs = {spec.name: spec for spec in connector.tools()}
    assert list(specs) == ["list_tables", "describe_table", "query"]
    for spec in specs.values():
        assert spec.annotations is not None and spec.annotations["readOnlyHint"] is True
    assert specs["describe_table"].input_schema["required"] == ["table"]
    assert specs["query"].input_schema["properties"]["max_rows"]["maximum"] == 500
    assert specs["query"].output_schema is not None


async def test_list_tables(db: Database, connector: SqlConnector) -> None:
    tables = (await answer(connector, "list_tables", {}))["tables"]
    names = {entry["name"]: entry["type"] for entry in tables}
    for name in ("customers", "contacts", "deals"):
        assert names[table(db, name)] == "table"
    assert names[table(db, "open_deals")] == "view"
    if db.kind == "postgresql":
        assert names["sales.targets"] == "table"
        assert not any(name.startswith(("pg_catalog.", "information_schema.")) for name in names)


async def test_describe_table(db: Database, connector: SqlConnector) -> None:
    described = await answer(connector, "describe_table", {"table": table(db, "deals")})
    columns = {column["name"]: column for column in described["columns"]}
    assert list(columns) == ["id", "customer_id", "title", "amount", "stage", "closed_on"]
    assert described["primary_key"] == ["id"]
    assert columns["id"]["primary_key"] is True
    assert columns["title"]["nullable"] is False and columns["closed_on"]["nullable"] is True
    assert "NUMERIC" in columns["amount"]["type"].upper() or "DECIMAL" in columns["amount"]["type"].upper()
    assert described["foreign_keys"] == [
        {"columns": ["customer_id"], "references": table(db, "customers"), "referenced_columns": ["id"]}
    ]


async def test_describe_table_accepts_a_bare_name_and_a_view(db: Database, connector: SqlConnector) -> None:
    described = await answer(connector, "describe_table", {"table": "open_deals"})
    assert described["type"] == "view" and described["name"] == table(db, "open_deals")
    assert [column["name"] for column in described["columns"]] == ["id", "customer_id", "title", "amount"]


@pytest.mark.parametrize(
    "name",
    ["nosuch", "deals; DROP TABLE deals", "deals' OR '1'='1", 'deals"--', "../deals", "pg_authid", "x" * 400],
)
async def test_describe_table_refuses_names_not_listed(
    db: Database, connector: SqlConnector, name: str
) -> None:
    before = db.snapshot()
    with pytest.raises(ConnectorError, match="no table or view named"):
        await connector.call("describe_table", {"table": name})
    assert db.snapshot() == before


async def test_query_with_parameters_and_value_types(db: Database, connector: SqlConnector) -> None:
    result = await answer(
        connector,
        "query",
        {
            "sql": "SELECT id, name, revenue, created_at, email FROM customers "
            "WHERE country = :country AND name LIKE :pattern ORDER BY id",
            "parameters": {"country": "US", "pattern": "%c%"},
        },
    )
    assert result["columns"] == ["id", "name", "revenue", "created_at", "email"]
    assert result["row_count"] == 2 and result["truncated"] is False and result["truncated_reason"] is None
    first, second = result["rows"]
    assert first[:3] == [1, "Acme Corp", money(db, "125000.50")]
    assert first[3].startswith("2024-01-15") and "09:30:00" in first[3]
    assert second[1] == "Initech" and second[4] is None


async def test_query_dates_unicode_and_aggregates(db: Database, connector: SqlConnector) -> None:
    result = await answer(
        connector,
        "query",
        {
            "sql": "SELECT c.name, count(d.id) AS deals, sum(d.amount) AS total, max(d.closed_on) AS last "
            "FROM customers c JOIN deals d ON d.customer_id = c.id "
            "WHERE d.stage = :stage GROUP BY c.name ORDER BY total DESC",
            "parameters": {"stage": "won"},
        },
    )
    rows = result["rows"]
    assert [row[0] for row in rows] == ["Globex", "Acme Corp", "Zoë Café SARL"]
    assert rows[0][1] == 1 and rows[0][2] == money(db, "98000.00") and rows[0][3] == "2024-03-15"


async def test_the_same_parameter_twice_and_literal_percent_signs(
    db: Database, connector: SqlConnector
) -> None:
    result = await answer(
        connector,
        "query",
        {
            "sql": "SELECT '100%' AS a, :v AS b, :v AS c, 7 % 3 AS d FROM customers WHERE id = 1",
            "parameters": {"v": "it's 50% off"},
        },
    )
    assert result["rows"] == [["100%", "it's 50% off", "it's 50% off", 1]]


async def test_parameter_values_are_never_sql(db: Database, connector: SqlConnector) -> None:
    before = db.snapshot()
    for value in [
        "x'; DROP TABLE deals; --",
        "1 OR 1=1",
        '"); DELETE FROM deals; --',
        "\\'; DELETE FROM deals; #",
    ]:
        result = await answer(
            connector,
            "query",
            {"sql": "SELECT id FROM customers WHERE name = :n", "parameters": {"n": value}},
        )
        assert result["rows"] == []
    assert db.snapshot() == before


async def test_parameters_must_match_the_sql(connector: SqlConnector) -> None:
    with pytest.raises(ConnectorError, match=":a"):
        await connector.call("query", {"sql": "SELECT :a AS a FROM customers"})
    with pytest.raises(ConnectorError, match="nothing else"):
        await connector.call("query", {"sql": "SELECT 1 AS a FROM customers", "parameters": {"b": 1}})
    with pytest.raises(ConnectorError, match="must be a string, number"):
        await connector.call("query", {"sql": "SELECT :a AS a FROM customers", "parameters": {"a": [1]}})


async def test_named_query_is_its_own_tool(db: Database) -> None:
    config = make_config(db, expose=["list_tables"], queries=[TOP_CUSTOMERS])
    async with SqlConnector(config) as connector:
        assert [spec.name for spec in connector.tools()] == ["list_tables", "top_customers"]
        spec = connector.tools()[1]
        assert spec.input_schema == TOP_CUSTOMERS["parameters"]
        assert spec.annotations is not None and spec.annotations["readOnlyHint"] is True
        result = await answer(connector, "top_customers", {"country": "US", "limit": 5})
        assert result["rows"] == [
            ["Acme Corp", "US", money(db, "125000.50")],
            ["Initech", "US", money(db, "43000.25")],
        ]
        result = await answer(connector, "top_customers", {"country": None, "limit": 2})
        assert [row[0] for row in result["rows"]] == ["Acme Corp", "Globex"]
        with pytest.raises(UnknownTool):
            await connector.call("query", {"sql": "SELECT 1"})
        with pytest.raises(UnknownTool):
            await connector.call("describe_table", {"table": "deals"})


async def test_rows_are_capped_by_config_and_by_argument(db: Database) -> None:
    counter = (
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000) "
        "SELECT i FROM n ORDER BY i"
    )
    async with SqlConnector(make_config(db, max_rows=100)) as connector:
        result = await answer(connector, "query", {"sql": counter})
        assert result["row_count"] == 100 and result["truncated"] is True
        assert result["truncated_reason"] == "max_rows" and result["rows"][-1] == [100]
        result = await answer(connector, "query", {"sql": counter, "max_rows": 7})
        assert result["rows"] == [[i] for i in range(1, 8)] and result["truncated_reason"] == "max_rows"
        result = await answer(connector, "query", {"sql": counter + " LIMIT 100"})
        assert result["row_count"] == 100 and result["truncated"] is False
        result = await answer(connector, "query", {"sql": counter + " LIMIT :n", "parameters": {"n": 150}})
        assert result["row_count"] == 100 and result["truncated_reason"] == "max_rows"


async def test_bytes_are_capped(db: Database) -> None:
    async with SqlConnector(make_config(db, max_bytes=120)) as connector:
        result = await answer(
            connector, "query", {"sql": "SELECT id, name, email FROM customers ORDER BY id"}
        )
        assert result["truncated"] is True and result["truncated_reason"] == "max_bytes"
        assert 0 < result["row_count"] < 5
        assert len(json.dumps(result["rows"], separators=(",", ":")).encode()) <= 120


async def test_a_slow_query_is_stopped_at_the_timeout(db: Database) -> None:
    if db.kind == "postgresql":
        sql = "SELECT count(*) FROM generate_series(1, 100000) a CROSS JOIN generate_series(1, 100000) b"
    else:
        sql = (
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000) "
            "SELECT count(*) FROM n a CROSS JOIN n b CROSS JOIN n c"
        )
    async with SqlConnector(make_config(db, statement_timeout_seconds=0.5)) as connector:
        with pytest.raises(UpstreamTimeout, match=r"longer than 0\.5 s"):
            await connector.call("query", {"sql": sql})
        # the pooled connection is fine afterwards
        assert (await answer(connector, "query", {"sql": "SELECT count(*) AS n FROM deals"}))["rows"] == [[7]]


async def test_database_errors_are_reported(connector: SqlConnector) -> None:
    with pytest.raises(UpstreamError, match="answered with an error"):
        await connector.call("query", {"sql": "SELECT nosuch FROM customers"})
    assert (await answer(connector, "query", {"sql": "SELECT count(*) AS n FROM customers"}))["rows"] == [[5]]


async def test_refusals_say_what_and_why(connector: SqlConnector) -> None:
    with pytest.raises(
        QueryRefused, match=r"^query refused: only a single SELECT .* found DELETE inside a WITH"
    ):
        await connector.call(
            "query", {"sql": "WITH gone AS (DELETE FROM deals RETURNING id) SELECT * FROM gone"}
        )


async def test_unknown_tool(connector: SqlConnector) -> None:
    with pytest.raises(UnknownTool):
        await connector.call("drop_everything", {})


async def test_unreachable_database_is_reported_without_the_password(db: Database) -> None:
    secret: dict[str, Any] = {"password": {"secret": "crm-db"}}
    if db.kind == "sqlite":
        config, secret = make_config(db, url="sqlite:////nonexistent/dir/crm.db"), {}
    elif db.kind == "postgresql":
        config = make_config(db, url="postgresql://nobody@127.0.0.1:1/crm", **secret)
    else:
        config = make_config(db, url="mysql+pymysql://nobody@127.0.0.1:1/crm", **secret)
    context = CallContext(agent="bot", secrets={"crm-db": "s3cret-pa55word"})
    async with SqlConnector(config) as connector:
        with pytest.raises(UpstreamUnreachable) as caught:
            await connector.call("query", {"sql": "SELECT 1"}, context)
    assert "s3cret-pa55word" not in str(caught.value)


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_a_sqlite_file_has_no_password(db: Database) -> None:
    with pytest.raises(ValueError, match="has no password"):
        make_config(db, password={"secret": "x"})


@pytest.mark.parametrize("db", ["mysql"], indirect=True)  # PostgreSQL here trusts local users
async def test_the_password_comes_from_the_call_per_agent(db: Database) -> None:
    user, database = f"ro_{uuid.uuid4().hex[:8]}", str(make_url(db.url).database)
    db.query(f"CREATE USER '{user}'@'%' IDENTIFIED BY 'first-Pa55'")
    db.query(f"GRANT SELECT ON `{database}`.* TO '{user}'@'%'")
    try:
        url = f"mysql+pymysql://{user}@127.0.0.1:3306/{database}"
        config = make_config(db, url=url, password={"secret": "crm-db", "per_agent": {"auditor": "crm-db-2"}})
        assert SqlConnector(config).secret_refs() == {"crm-db", "crm-db-2"}
        async with SqlConnector(config) as connector:
            good = CallContext(agent="bot", secrets={"crm-db": "first-Pa55"})
            answer = await connector.call("query", {"sql": "SELECT count(*) AS n FROM customers"}, good)
            assert answer.structured is not None and answer.structured["rows"] == [[len(CUSTOMERS)]]
            wrong = CallContext(agent="auditor", secrets={"crm-db-2": "not-the-Pa55"})
            with pytest.raises(UpstreamUnreachable) as caught:
                await connector.call("query", {"sql": "SELECT 1 AS one"}, wrong)
            assert "not-the-Pa55" not in str(caught.value)
            with pytest.raises(MissingCredential, match="crm-db"):
                await connector.call("query", {"sql": "SELECT 1 AS one"}, CallContext(agent="bot"))
    finally:
        db.query(f"DROP USER '{user}'@'%'")


LEGIT_COMMON = [
    "SELECT c.name, count(d.id) AS n FROM customers c LEFT JOIN deals d ON d.customer_id = c.id "
    "GROUP BY c.name HAVING count(d.id) >= 1 ORDER BY n DESC, c.name",
    "SELECT name FROM customers WHERE id IN (SELECT customer_id FROM deals WHERE amount > 10000) "
    "ORDER BY name",
    "SELECT stage, sum(amount) AS total, avg(amount) AS mean, min(amount) AS lo, max(amount) AS hi "
    "FROM deals GROUP BY stage ORDER BY stage",
    "SELECT id, CASE WHEN amount > 50000 THEN 'big' ELSE 'small' END AS size FROM deals ORDER BY id",
    "SELECT id, row_number() OVER (PARTITION BY customer_id ORDER BY amount DESC) AS rn "
    "FROM deals ORDER BY id",
    "SELECT id, sum(amount) OVER (ORDER BY id ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS s "
    "FROM deals",
    "WITH won AS (SELECT * FROM deals WHERE stage = 'won') SELECT count(*) AS n FROM won",
    "SELECT name FROM customers UNION SELECT title FROM deals ORDER BY 1",
    "SELECT upper(name) AS u, lower(country) AS l, length(name) AS len, substr(name, 1, 3) AS s, "
    "coalesce(email, '-') AS e, replace(name, ' ', '_') AS r, trim(name) AS t FROM customers ORDER BY id",
    "SELECT round(avg(amount), 2) AS a, abs(-1) AS b, nullif(1, 1) AS c FROM deals",
    "SELECT DISTINCT country FROM customers ORDER BY country",
    "SELECT * FROM open_deals ORDER BY id",
    "SELECT name FROM customers WHERE name LIKE 'A%' OR email IS NULL ORDER BY name",
    "SELECT c.name, d.title FROM customers c JOIN deals d ON d.customer_id = c.id "
    "WHERE d.closed_on BETWEEN '2024-01-01' AND '2024-12-31' ORDER BY d.closed_on",
    "SELECT count(*) AS n FROM deals WHERE EXISTS "
    "(SELECT 1 FROM contacts WHERE contacts.customer_id = deals.customer_id)",
    "SELECT * FROM deals ORDER BY amount DESC LIMIT 3 OFFSET 1",
    "SELECT id FROM deals WHERE stage IN ('won', 'lost') AND amount >= :min ORDER BY id",
]
LEGIT = {
    "postgresql": [
        "SELECT date_trunc('month', created_at) AS m, extract(year FROM created_at) AS y, "
        "to_char(created_at, 'YYYY-MM') AS t, created_at::date AS d FROM customers",
        "SELECT string_agg(title, ', ' ORDER BY title) AS titles, array_agg(id) AS ids FROM deals",
        "SELECT jsonb_build_object('name', name, 'country', country) AS j FROM customers",
        "SELECT DISTINCT ON (customer_id) customer_id, title FROM deals ORDER BY customer_id, amount DESC",
        "SELECT count(*) FILTER (WHERE stage = 'won') AS won FROM deals",
        "SELECT name FROM customers WHERE name ILIKE :q ORDER BY created_at DESC NULLS LAST",
        "SELECT g, g * 2 AS double FROM generate_series(1, 5) AS g",
        "SELECT regexp_replace(name, '[^a-z]', '', 'gi') AS r, split_part(email, '@', 2) AS host "
        "FROM customers",
        "SELECT now() - created_at > interval '1 day' AS old, age(created_at) AS age FROM customers",
        "SELECT name || ' <' || coalesce(email, '') || '>' AS label FROM customers",
        "SELECT quarter, goal FROM sales.targets",
    ],
    "mysql": [
        "SELECT DATE_FORMAT(created_at, '%Y-%m') AS m, YEAR(created_at) AS y, DATE(created_at) AS d "
        "FROM customers",
        "SELECT GROUP_CONCAT(title ORDER BY title SEPARATOR ', ') AS titles FROM deals",
        "SELECT IFNULL(email, '-') AS e, IF(revenue > 50000, 'big', 'small') AS s FROM customers",
        "SELECT CONCAT(name, ' <', COALESCE(email, ''), '>') AS label FROM `customers`",
        "SELECT TIMESTAMPDIFF(DAY, created_at, NOW()) AS days, DATE_ADD(created_at, INTERVAL 1 DAY) AS next "
        "FROM customers",
        "SELECT JSON_OBJECT('name', name) AS j FROM customers",
        "SELECT name FROM customers WHERE name LIKE :q ORDER BY created_at DESC LIMIT 2, 2",
    ],
    "sqlite": [
        "SELECT strftime('%Y-%m', created_at) AS m, date(created_at) AS d, julianday(created_at) AS j "
        "FROM customers",
        "SELECT group_concat(title, ', ') AS titles FROM deals",
        "SELECT ifnull(email, '-') AS e, iif(revenue > 50000, 'big', 'small') AS s, typeof(revenue) AS t "
        "FROM customers",
        "SELECT name || ' <' || coalesce(email, '') || '>' AS label, instr(name, 'o') AS i FROM customers",
        "SELECT json_object('name', name) AS j, printf('%05d', id) AS p FROM customers",
        "SELECT name FROM customers WHERE name LIKE :q ORDER BY created_at DESC",
    ],
}


@pytest.mark.parametrize(
    ("kind", "sql"),
    [pytest.param(kind, sql, id=f"{kind}-{i}") for kind in LEGIT for i, sql in enumerate(LEGIT_COMMON)]
    + [
        pytest.param(kind, sql, id=f"{kind}-own-{i}")
        for kind, sqls in LEGIT.items()
        for i, sql in enumerate(sqls)
    ],
)
async def test_everyday_queries_run_as_written(request: pytest.FixtureRequest, kind: str, sql: str) -> None:
    db: Database = request.getfixturevalue(f"{kind}_db")
    parameters = {name: value for name, value in (("min", 1000), ("q", "%a%")) if f":{name}" in sql}
    async with SqlConnector(make_config(db)) as connector:
        result = await answer(connector, "query", {"sql": sql, "parameters": parameters})
    assert result["columns"] and result["row_count"] >= 1 and result["truncated"] is False


async def test_refused_sql_is_not_written_to_the_log(
    connector: SqlConnector, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    with pytest.raises(QueryRefused):
        await connector.call("query", {"sql": "VACUUM INTO 'alice@example.com.db'"})
    assert "alice@example.com" not in caplog.text
