"""Hostile SQL against the read-only `query` tool, connected as a superuser (postgres / root).

Every attempt must be refused, and the database must be unchanged afterwards (tables, rows,
sequences, locks, large objects, roles) with no file created. Tricks that the parser reads
as something harmless must run as that harmless thing. Finally the lower layers are attacked
on their own, with the parser out of the way, to show each holds by itself.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest

from connectors.fields import MIB
from connectors.sql.connector import SqlConnector
from connectors.sql.engine import DB_ERRORS, build_engine, parse_url
from connectors.sql.guard import QueryRefused
from connectors.sql.run import Limits, json_value, run_select
from tests.connectors.sql.conftest import KINDS, Database, make_config

COMMON = [
    "SELECT 1; DROP TABLE deals",
    "SELECT 1;DROP TABLE deals;",
    "select 1; delete from deals",
    "SELECT 1\n;\nDELETE\nFROM\ndeals",
    "COMMIT; DROP TABLE deals",
    "ROLLBACK; DELETE FROM deals",
    "SELECT 1; COMMIT; DELETE FROM deals",
    "SELECT 1 -- harmless\n; DELETE FROM deals",
    "SELECT 1 /* harmless */; DELETE FROM deals",
    "/* leading */ DELETE FROM deals",
    "SELECT 1\uff1b DELETE FROM deals",
    "SELECT 1 \x00; DELETE FROM deals",
    "SELECT 1 WHERE EXISTS (SELECT 1); UPDATE deals SET stage = 'won'",
    "DELETE FROM deals",
    "UPDATE deals SET amount = 0",
    "INSERT INTO deals VALUES (99, 1, 'x', 1, 'open', NULL)",
    "INSERT INTO deals SELECT id + 100, customer_id, title, amount, stage, closed_on FROM deals",
    "REPLACE INTO deals VALUES (1, 1, 'x', 1, 'open', NULL)",
    "MERGE INTO deals d USING customers c ON d.id = c.id WHEN MATCHED THEN DELETE",
    "DROP TABLE deals",
    "DROP VIEW open_deals",
    "CREATE TABLE pwned (a INTEGER)",
    "CREATE TABLE pwned AS SELECT * FROM customers",
    "CREATE VIEW pwned AS SELECT 1",
    "CREATE INDEX pwned ON deals (title)",
    "CREATE TEMPORARY TABLE pwned (a INTEGER)",
    "ALTER TABLE deals ADD COLUMN pwned INTEGER",
    "ALTER TABLE deals RENAME TO pwned",
    "TRUNCATE TABLE deals",
    "WITH d AS (DELETE FROM deals RETURNING id) SELECT * FROM d",
    "WITH u AS (UPDATE deals SET amount = 0 RETURNING id) SELECT count(*) FROM u",
    "WITH i AS (INSERT INTO customers (id, name, country, created_at) VALUES (99, 'x', 'US', '2024-01-01') "
    "RETURNING id) SELECT * FROM i",
    "WITH x AS (SELECT 1) DELETE FROM deals",
    "SELECT * FROM customers WHERE id IN (WITH d AS (DELETE FROM deals RETURNING customer_id) "
    "SELECT customer_id FROM d)",
    "SELECT 1 UNION ALL SELECT count(*) FROM (DELETE FROM deals RETURNING 1) x",
    "SELECT * INTO pwned FROM customers",
    "SELECT * FROM deals FOR UPDATE",
    "SELECT * FROM deals FOR SHARE",
    "SELECT * FROM deals WHERE id = 1 FOR UPDATE NOWAIT",
    "BEGIN",
    "START TRANSACTION",
    "COMMIT",
    "SAVEPOINT s1",
    "RELEASE SAVEPOINT s1",
    "SET TRANSACTION READ WRITE",
    "EXPLAIN DELETE FROM deals",
    "EXPLAIN ANALYZE DELETE FROM deals",
    "CALL do_something()",
    "GRANT ALL ON deals TO PUBLIC",
    "",
    "   ;  ",
    "SELECT " + "(" * 3000 + "1" + ")" * 3000,
    "SELECT 1 AS a" + " " * 100_001,
]

POSTGRES = [
    "COPY deals TO PROGRAM 'touch {file}'",
    "COPY (SELECT 1) TO '{file}'",
    "COPY deals FROM PROGRAM 'id'",
    "SELECT pg_read_file('/etc/passwd')",
    "SELECT pg_read_binary_file('/etc/passwd')",
    "SELECT pg_read_file(c.x) FROM (SELECT '/etc/passwd' AS x) c",
    "SELECT * FROM pg_ls_dir('.')",
    "SELECT pg_stat_file('/etc/passwd')",
    "SELECT lo_import('/etc/passwd')",
    "SELECT lo_export(1, '{file}')",
    "SELECT lo_from_bytea(0, 'x')",
    "SELECT dblink_exec('dbname=test', 'DROP TABLE deals')",
    "SELECT * FROM dblink('dbname=test', 'SELECT 1') AS t(a int)",
    "SELECT set_config('statement_timeout', '0', false)",
    "SELECT set_config('default_transaction_read_only', 'off', false)",
    "SELECT current_setting('data_directory')",
    "SELECT nextval('invoice_seq')",
    "SELECT setval('invoice_seq', 1000)",
    "SELECT nextval(x) FROM (SELECT 'invoice_seq' AS x) s",
    "SELECT * FROM generate_series(1, 3) WHERE nextval('invoice_seq') > 0",
    "SELECT pg_advisory_lock(42)",
    "SELECT pg_try_advisory_lock(42)",
    "SELECT pg_advisory_xact_lock(42)",
    "SELECT pg_notify('chan', 'x')",
    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity",
    "SELECT pg_cancel_backend(pg_backend_pid())",
    "SELECT pg_reload_conf()",
    "SELECT pg_switch_wal()",
    "SELECT pg_logical_emit_message(true, 'x', 'y')",
    "SELECT txid_current()",
    "SELECT query_to_xml('DELETE FROM deals RETURNING 1', true, true, '')",
    "SELECT pg_sleep(10)",
    "SELECT pg_sleep_for('10 seconds')",
    "SELECT * FROM pg_sleep(10)",
    "SELECT * FROM ROWS FROM (pg_sleep(1))",
    "SELECT id FROM deals ORDER BY pg_sleep(1)",
    "SELECT id FROM deals WHERE pg_sleep(1) IS NULL",
    "SELECT (SELECT pg_sleep(1))",
    "WITH s AS MATERIALIZED (SELECT pg_sleep(1)) SELECT * FROM s",
    "SELECT * FROM deals, LATERAL (SELECT pg_sleep(0.1)) s",
    "SELECT array_agg(x) FILTER (WHERE pg_sleep(1) IS NULL) FROM generate_series(1, 3) x",
    "SELECT format('%s', pg_sleep(1))",
    "SELECT pg_catalog.pg_sleep(1)",
    'SELECT "pg_sleep"(1)',
    "SELECT PG_SLEEP(1)",
    "SELECT pg_catalog.lower(name) FROM customers",
    "SELECT public.lower(name) FROM customers",
    "SELECT xmlparse(document '<!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]><x>&e;</x>')",
    "SELECT * FROM pg_authid",
    "SELECT rolpassword FROM pg_catalog.pg_authid",
    'SELECT * FROM "pg_authid"',
    "SELECT passwd FROM pg_shadow",
    "SELECT * FROM pg_user_mappings",
    "SELECT query FROM pg_stat_activity",
    "SELECT * FROM pg_catalog.pg_hba_file_rules",
    "DO $$ BEGIN DELETE FROM deals; END $$",
    "PREPARE p AS DELETE FROM deals",
    "EXECUTE p",
    "DEALLOCATE ALL",
    "LOCK TABLE deals IN ACCESS EXCLUSIVE MODE",
    "SET statement_timeout = 0",
    "SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE",
    "RESET ALL",
    "SET ROLE postgres",
    "LISTEN chan",
    "NOTIFY chan, 'x'",
    "VACUUM deals",
    "ANALYZE deals",
    "CLUSTER deals",
    "REINDEX TABLE deals",
    "REFRESH MATERIALIZED VIEW mv",
    "CHECKPOINT",
    "DISCARD ALL",
    "LOAD 'plpgsql'",
    "ALTER SYSTEM SET work_mem = '1GB'",
    "CREATE EXTENSION dblink",
    "CREATE FUNCTION f() RETURNS int AS 'SELECT 1' LANGUAGE sql",
    "COMMENT ON TABLE deals IS 'pwned'",
    "DECLARE c CURSOR FOR SELECT 1",
    "SELECT $1",
    "SELECT E'\\\\', 'x', pg_sleep(5) --'",
    "SELECT 'a\\' , pg_sleep(5) -- ' AS a",
    "SELECT $$x$$; DELETE FROM deals",
    "SELECT $q$;$q$; DELETE FROM deals",
    "SELECT U&'\\0027'; DELETE FROM deals",
    "SELECT * FROM deals WHERE id = 1 FOR NO KEY UPDATE",
    "SELECT * FROM deals FOR KEY SHARE",
    "SELECT gen_random_uuid() INTO TEMP pwned",
    "TABLE deals; DELETE FROM deals",
]

MYSQL = [
    "SELECT LOAD_FILE('/etc/passwd')",
    "SELECT * FROM deals INTO OUTFILE '{file}'",
    "SELECT * FROM deals INTO DUMPFILE '{file}'",
    "SELECT 'x' INTO OUTFILE '{file}'",
    "SELECT 1 FROM DUAL WHERE 1 = 1 INTO OUTFILE '{file}'",
    "SELECT id INTO @x FROM deals LIMIT 1",
    "SELECT SLEEP(10)",
    "SELECT `sleep`(5)",
    "SELECT sleep (5)",
    "SELECT SlEeP(5)",
    "SELECT test.sleep(5)",
    "SELECT BENCHMARK(100000000, MD5('x'))",
    "SELECT GET_LOCK('broker_attack', 10)",
    "SELECT RELEASE_ALL_LOCKS()",
    "SELECT IS_FREE_LOCK('x')",
    "SELECT MASTER_POS_WAIT('log', 4)",
    "SELECT LAST_INSERT_ID(42)",
    "SELECT NEXTVAL(invoice_seq)",
    "SELECT SETVAL(invoice_seq, 1000)",
    "SELECT NEXT VALUE FOR invoice_seq",
    "SELECT @a := 1",
    "SELECT @@global.secure_file_priv",
    "SELECT /*+ SET_VAR(max_statement_time=0) */ SLEEP(1)",
    "SELECT /*+ MAX_EXECUTION_TIME(0) */ 1",
    "SELECT * FROM mysql.user",
    "SELECT authentication_string FROM mysql.global_priv",
    "SELECT * FROM performance_schema.threads",
    "SELECT * FROM information_schema.processlist",
    "SELECT * FROM test.alembic_version",
    "SELECT c.* FROM customers c JOIN `test`.`some_table` t ON t.id = c.id",
    "SELECT 1 UNION SELECT LOAD_FILE('/etc/passwd')",
    "SELECT 'a\\\\', SLEEP(5) -- '",
    "SELECT sys_exec('touch {file}')",
    "HANDLER deals OPEN",
    "HANDLER deals READ FIRST",
    "LOCK TABLES deals WRITE",
    "UNLOCK TABLES",
    "FLUSH TABLES WITH READ LOCK",
    "KILL CONNECTION_ID()",
    "SET @@session.max_statement_time = 0",
    "SET GLOBAL max_connections = 1",
    "SET SESSION TRANSACTION READ WRITE",
    "SET sql_mode = 'NO_BACKSLASH_ESCAPES'",
    "PREPARE s FROM 'DELETE FROM deals'",
    "EXECUTE s",
    "DEALLOCATE PREPARE s",
    "DO SLEEP(5)",
    "DO GET_LOCK('broker_attack', 1)",
    "LOAD DATA INFILE '/etc/passwd' INTO TABLE deals",
    "LOAD DATA LOCAL INFILE '/etc/passwd' INTO TABLE deals",
    "INSERT INTO deals SELECT * FROM deals ON DUPLICATE KEY UPDATE amount = 0",
    "XA START 'x'",
    "SELECT * FROM deals LOCK IN SHARE MODE",
    "SELECT * FROM deals FOR UPDATE SKIP LOCKED",
    "SELECT * FROM deals PROCEDURE ANALYSE()",
    "RENAME TABLE deals TO pwned",
    "OPTIMIZE TABLE deals",
    "INSTALL PLUGIN x SONAME 'x.so'",
    "CREATE FUNCTION sys_exec RETURNS INT SONAME 'lib_mysqludf_sys.so'",
    "SHOW GRANTS",
]

SQLITE = [
    "ATTACH DATABASE '{file}' AS pwn",
    "ATTACH '{file}' AS pwn",
    "SELECT 1; ATTACH '{file}' AS pwn",
    "DETACH DATABASE main",
    "VACUUM",
    "VACUUM INTO '{file}'",
    "PRAGMA writable_schema = 1",
    "PRAGMA query_only = 0",
    "PRAGMA journal_mode = WAL",
    "PRAGMA table_info(deals)",
    "SELECT * FROM pragma_table_info('deals')",
    "SELECT load_extension('{file}')",
    "SELECT 1 UNION SELECT load_extension('{file}')",
    "SELECT writefile('{file}', 'x')",
    "SELECT readfile('/etc/passwd')",
    "SELECT edit('x')",
    "SELECT fts3_tokenizer('simple')",
    "SELECT randomblob(1000000000)",
    "SELECT zeroblob(1000000000)",
    "BEGIN IMMEDIATE",
    "BEGIN EXCLUSIVE",
    "END",
    "REINDEX",
    "ANALYZE",
    "CREATE TRIGGER t AFTER INSERT ON deals BEGIN DELETE FROM deals; END",
    "CREATE VIRTUAL TABLE pwn USING fts5(a)",
    "UPDATE sqlite_master SET sql = 'x'",
    "INSERT OR REPLACE INTO deals VALUES (1, 1, 'x', 1, 'open', NULL)",
    "SELECT ?1",
    "SELECT ?",
    "SELECT @x",
]

ATTACKS = [(kind, sql) for kind in KINDS for sql in COMMON] + [
    (kind, sql)
    for kind, attacks in (("postgresql", POSTGRES), ("mysql", MYSQL), ("sqlite", SQLITE))
    for sql in attacks
]


def _id(kind: str, sql: str) -> str:
    return f"{kind}:{re.sub(r'[^A-Za-z0-9]+', '_', sql)[:60]}"


@pytest.fixture
def attack_file() -> str:
    """A path an attack may try to create; the test checks it never exists."""
    return f"/tmp/broker-sql-attack-{uuid.uuid4().hex}"


@pytest.mark.parametrize(("kind", "sql"), [pytest.param(k, s, id=_id(k, s)) for k, s in ATTACKS])
async def test_attack_is_refused_and_changes_nothing(
    request: pytest.FixtureRequest, kind: str, sql: str, attack_file: str
) -> None:
    db: Database = request.getfixturevalue(f"{kind}_db")
    before = db.snapshot()
    async with SqlConnector(make_config(db)) as connector:
        with pytest.raises(QueryRefused, match=r"^query refused: "):
            await connector.call("query", {"sql": sql.replace("{file}", attack_file)})
        assert (await connector.call("query", {"sql": "SELECT count(*) AS n FROM deals"})).structured == {
            "columns": ["n"],
            "rows": [[7]],
            "row_count": 1,
            "truncated": False,
            "truncated_reason": None,
        }
    assert db.snapshot() == before
    assert not Path(attack_file).exists()


NEUTRALISED = [
    # MySQL runs code inside /*! ... */ comments; the checked query is re-rendered without them.
    ("mysql", "SELECT 1 AS a /*!, LOAD_FILE('/etc/passwd') */", [[1]]),
    ("mysql", "SELECT 1 AS a /*!50000 INTO OUTFILE '{file}' */", [[1]]),
    ("mysql", "SELECT 1 AS a /*M!100000 , SLEEP(5) */", [[1]]),
    ("mysql", "SELECT 'a\\' OR SLEEP(5) -- ' AS a", [["a' OR SLEEP(5) -- "]]),
    # An E'' string escapes the quote: one literal for the parser, and so for PostgreSQL.
    ("postgresql", "SELECT E'a\\' , pg_sleep(5) -- ' AS a", [["a' , pg_sleep(5) -- "]]),
    ("postgresql", "SELECT 1 AS a /* /* nested */ ; DROP TABLE deals; */", [[1]]),
    ("postgresql", 'SELECT 1 AS "a""; DROP TABLE deals; --"', [[1]]),
    ("sqlite", "SELECT 1 AS a -- ; DROP TABLE deals", [[1]]),
    *[(kind, "SELECT 'x'';DROP TABLE deals;--' AS a", [["x';DROP TABLE deals;--"]]) for kind in KINDS],
]


@pytest.mark.parametrize(("kind", "sql", "rows"), [pytest.param(*n, id=_id(n[0], n[1])) for n in NEUTRALISED])
async def test_tricks_read_as_harmless_run_as_harmless(
    request: pytest.FixtureRequest, kind: str, sql: str, rows: list[list[object]], attack_file: str
) -> None:
    db: Database = request.getfixturevalue(f"{kind}_db")
    before = db.snapshot()
    async with SqlConnector(make_config(db)) as connector:
        output = await connector.call("query", {"sql": sql.replace("{file}", attack_file)})
    assert output.structured is not None and output.structured["rows"] == rows
    assert db.snapshot() == before
    assert not Path(attack_file).exists()


UNGUARDED = {
    "postgresql": [
        "DELETE FROM deals",
        "UPDATE deals SET amount = 0",
        "INSERT INTO deals VALUES (99, 1, 'x', 1, 'open', NULL)",
        "CREATE TABLE pwned (a int)",
        "CREATE TEMP TABLE pwned (a int)",
        "DROP TABLE deals",
        "SELECT 1; DELETE FROM deals",
        "COMMIT; DELETE FROM deals",
        "WITH d AS (DELETE FROM deals RETURNING id) SELECT * FROM d",
        "SELECT * FROM deals FOR UPDATE",
        "SELECT nextval('invoice_seq')",
        "SELECT * INTO pwned FROM deals",
        "SET TRANSACTION READ WRITE",
        "SELECT pg_sleep(10)",
    ],
    "mysql": [
        "DELETE FROM deals",
        "UPDATE deals SET amount = 0",
        "INSERT INTO deals VALUES (99, 1, 'x', 1, 'open', NULL)",
        "CREATE TABLE pwned (a INT)",
        "ALTER TABLE deals ADD COLUMN pwned INT",
        "DROP TABLE deals",
        "TRUNCATE TABLE deals",
        "SELECT 1; DELETE FROM deals",
        "COMMIT; DELETE FROM deals",
        "SELECT SLEEP(10)",
    ],
    "sqlite": [
        "DELETE FROM deals",
        "UPDATE deals SET amount = 0",
        "INSERT INTO deals VALUES (99, 1, 'x', 1, 'open', NULL)",
        "CREATE TABLE pwned (a)",
        "DROP TABLE deals",
        "SELECT 1; DELETE FROM deals",
        "ATTACH '{file}' AS pwn",
        "VACUUM INTO '{file}'",
        "PRAGMA query_only = 0",
        "PRAGMA writable_schema = 1",
        "SELECT load_extension('{file}')",
        "SELECT randomblob(10)",
        "BEGIN IMMEDIATE",
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT count(*) FROM n",
    ],
}


@pytest.mark.parametrize(
    ("kind", "sql"), [pytest.param(k, s, id=_id(k, s)) for k, attacks in UNGUARDED.items() for s in attacks]
)
def test_lower_layers_hold_without_the_parser(
    request: pytest.FixtureRequest, kind: str, sql: str, attack_file: str
) -> None:
    """The raw statement goes straight to the session layer: read-only transaction, one
    statement per call, timeouts, and on SQLite the authorizer and progress handler."""
    db: Database = request.getfixturevalue(f"{kind}_db")
    before = db.snapshot()
    url, db_kind = parse_url(db.url)
    engine = build_engine(url, db_kind, password=None, timeout=0.5)
    try:
        raw = engine.raw_connection()
        try:
            with pytest.raises(DB_ERRORS):
                run_select(
                    raw,
                    db_kind,
                    sql.replace("{file}", attack_file),
                    None if kind == "mysql" else [],
                    Limits(10, MIB, 0.5),
                )
        finally:
            raw.close()
    finally:
        engine.dispose()
    assert db.snapshot() == before
    assert not Path(attack_file).exists()


LITERALS = {
    "mysql": [
        r"'a\\b'",
        r"'x\'y'",
        r"'q''z'",
        r"'\\'",
        r"'\\\''",
        r"'tab\there'",
        r"'\%'",
        r"'\_'",
        r"'\Z'",
        r'"dq\"x"',
        r"'a' 'b'",
        r"_utf8mb4'x'",
        r"X'41'",
        r"0x41",
        r"b'01'",
        r"'\0'",
        "'é€𝄞'",
    ],
    "postgresql": [
        r"'a\b'",
        r"E'a\\b'",
        r"E'\''",
        r"'q''z'",
        r"U&'\0041\+01F600'",
        r"$$x'y$$",
        r"$t$a$$b$t$",
        r"E'\x41\101\u00e9'",
        r"B'101'",
        r"X'1F'",
        r"'$1'",
        r"'?1'",
        r"e'\\\''",
    ],
    "sqlite": [r"'a\b'", r"'q''z'", r"X'41'", r"'?1'", r"'$1'", r"':x'", "'é'"],
}


@pytest.mark.parametrize(
    ("kind", "literal"),
    [pytest.param(k, lit, id=f"{k}:{lit}") for k, lits in LITERALS.items() for lit in lits],
)
async def test_literals_mean_the_same_after_re_rendering(
    request: pytest.FixtureRequest, kind: str, literal: str
) -> None:
    """Quoting and escaping differ per database; the re-rendered query must read its
    literals exactly as the database reads the original text."""
    db: Database = request.getfixturevalue(f"{kind}_db")
    sql = f"SELECT {literal} AS v"
    async with SqlConnector(make_config(db)) as connector:
        output = await connector.call("query", {"sql": sql})
    assert output.structured is not None
    assert output.structured["rows"] == [[json_value(db.scalar(sql))]]
