"""The parser layer on its own: what it accepts, how it writes SQL back out for each driver."""

from __future__ import annotations

import pytest

from connectors.sql.guard import Dialect, PlaceholderStyle, QueryRefused, check_select, render


def test_parameters_are_collected_sorted_and_distinct() -> None:
    checked = check_select("SELECT * FROM t WHERE b = :beta AND a = :alpha OR b > :beta", "postgres")
    assert checked.parameters == ("alpha", "beta")


@pytest.mark.parametrize(
    ("dialect", "style", "expected"),
    [
        ("postgres", "numeric", "SELECT a FROM t WHERE x = $2 AND y LIKE 'a%' AND z = $1 LIMIT 11"),
        ("sqlite", "qmark", "SELECT a FROM t WHERE x = ?2 AND y LIKE 'a%' AND z = ?1 LIMIT 11"),
        ("mysql", "pyformat", "SELECT a FROM t WHERE x = %(p2)s AND y LIKE 'a%%' AND z = %(p1)s LIMIT 11"),
    ],
)
def test_render_places_driver_parameters(dialect: Dialect, style: PlaceholderStyle, expected: str) -> None:
    checked = check_select("SELECT a FROM t WHERE x = :x AND y LIKE 'a%' AND z = :b", dialect)
    assert render(checked, dialect, style, row_cap=11) == expected


def test_render_leaves_percent_signs_alone_without_parameters() -> None:
    checked = check_select("SELECT 'a%' AS a, 7 % 2 AS b FROM t", "mysql")
    assert render(checked, "mysql", "pyformat", row_cap=5) == "SELECT 'a%' AS a, 7 % 2 AS b FROM t LIMIT 5"


def test_render_drops_comments_including_mysql_executable_ones() -> None:
    checked = check_select("SELECT 1 AS a /*!, LOAD_FILE('/etc/passwd') */ -- trailing", "mysql")
    assert render(checked, "mysql", "pyformat", row_cap=5) == "SELECT 1 AS a LIMIT 5"


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT a FROM t", "SELECT a FROM t LIMIT 11"),
        ("SELECT a FROM t LIMIT 3", "SELECT a FROM t LIMIT 3"),
        ("SELECT a FROM t LIMIT 500 OFFSET 2", "SELECT a FROM t LIMIT 11 OFFSET 2"),
        ("SELECT a FROM t LIMIT ALL", "SELECT a FROM t LIMIT 11"),
        ("SELECT a FROM t LIMIT :n", "SELECT a FROM t LIMIT $1"),
        ("SELECT 1 UNION SELECT 2 ORDER BY 1", "SELECT 1 UNION SELECT 2 ORDER BY 1 LIMIT 11"),
        (
            "SELECT a FROM t ORDER BY a FETCH FIRST 5 ROWS ONLY",
            "SELECT a FROM t ORDER BY a FETCH FIRST 5 ROWS ONLY",
        ),
    ],
)
def test_render_caps_the_rows_the_database_produces(sql: str, expected: str) -> None:
    assert render(check_select(sql, "postgres"), "postgres", "numeric", row_cap=11) == expected


def test_render_does_not_change_the_checked_tree() -> None:
    checked = check_select("SELECT a FROM t WHERE x = :x", "postgres")
    render(checked, "postgres", "numeric", row_cap=3)
    assert checked.tree.sql("postgres") == "SELECT a FROM t WHERE x = %(x)s"


@pytest.mark.parametrize(
    ("dialect", "sql"),
    [
        (
            "postgres",
            "SELECT c.name, count(*) FILTER (WHERE d.stage = 'won') AS won FROM customers c "
            "LEFT JOIN deals d ON d.customer_id = c.id GROUP BY c.name HAVING count(*) > 1 "
            "ORDER BY 2 DESC NULLS LAST",
        ),
        (
            "postgres",
            "SELECT x::int, CAST(y AS text), now() - interval '1 day', date_trunc('month', d) FROM t",
        ),
        ("postgres", "SELECT jsonb_build_object('a', 1) -> 'a', data ->> 'k', data @> '{\"a\": 1}' FROM t"),
        (
            "postgres",
            "SELECT * FROM t WHERE name ILIKE '%x%' AND id = ANY(ARRAY[1, 2]) AND tags && ARRAY['a']",
        ),
        (
            "postgres",
            "SELECT rank() OVER (PARTITION BY a ORDER BY b), lag(b) OVER w FROM t WINDOW w AS (ORDER BY b)",
        ),
        (
            "postgres",
            "SELECT * FROM generate_series(1, 3) AS g(i) CROSS JOIN LATERAL unnest(ARRAY[i]) AS u(v)",
        ),
        (
            "mysql",
            "SELECT DATE_FORMAT(d, '%Y-%m'), IFNULL(a, 0), GROUP_CONCAT(b ORDER BY b SEPARATOR ',') FROM t "
            "GROUP BY 1",
        ),
        (
            "mysql",
            "SELECT JSON_EXTRACT(j, '$.a'), j ->> '$.b', TIMESTAMPDIFF(DAY, a, b), `weird name` FROM `t`",
        ),
        (
            "sqlite",
            "SELECT strftime('%Y', d), julianday(d), iif(a > 1, 'x', 'y'), json_extract(j, '$.a') FROM t",
        ),
        (
            "sqlite",
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5) SELECT * FROM n",
        ),
    ],
)
def test_ordinary_analytics_queries_pass(dialect: Dialect, sql: str) -> None:
    check_select(sql, dialect)


@pytest.mark.parametrize(
    ("sql", "reason"),
    [
        ("WITH x AS (DELETE FROM t RETURNING *) SELECT * FROM x", "found DELETE inside a WITH clause"),
        (
            "SELECT * FROM t WHERE EXISTS (SELECT 1 FROM (SELECT 1) s WHERE (SELECT pg_sleep(1)) IS NULL)",
            "function PG_SLEEP is not on the allow-list",
        ),
        ("SELECT 1; SELECT 2", "found 2 statements"),
        ("SELECT * INTO t2 FROM t", "SELECT ... INTO"),
        ("SELECT * FROM t FOR UPDATE", "locking clauses"),
        ("SELECT pg_catalog.now()", "schema-qualified function calls"),
        ("SELECT $1", "use named :parameters"),
        ("LISTEN x", "found a statement starting with LISTEN"),
        ("SELECT FROM WHERE", "does not parse as PostgreSQL SQL"),
    ],
)
def test_refusals_name_the_reason(sql: str, reason: str) -> None:
    with pytest.raises(QueryRefused) as caught:
        check_select(sql, "postgres")
    assert caught.value.message.startswith("query refused: ")
    assert reason in caught.value.message


def test_mysql_reads_only_its_own_database() -> None:
    check_select(
        "SELECT * FROM crm.customers JOIN information_schema.tables t ON 1 = 1",
        "mysql",
        database="crm",
        allow_catalogs=frozenset({"information_schema.tables"}),
    )
    with pytest.raises(QueryRefused, match="in another database; this connector reads only 'crm'"):
        check_select("SELECT * FROM billing.invoices", "mysql", database="crm")
