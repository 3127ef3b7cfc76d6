"""The parser layer of read-only SQL: accept one side-effect-free SELECT, refuse the rest.

`check_select` parses with sqlglot for the connector's dialect and walks the whole tree:
exactly one statement; a SELECT or set operation (UNION/INTERSECT/EXCEPT) at the root; no
write, DDL, command, transaction, SET, PRAGMA, ATTACH, COPY, INTO, locking clause, optimizer
hint, variable or positional parameter anywhere; only functions from the allow-list
(`connectors.sql.functions`), never schema-qualified; no credential-bearing catalog tables,
and no system catalog at all (roles, grants, settings, other databases, the schema) unless
the connector's `allow_catalogs` names it: agents learn the schema of the connector's own
tables through `list_tables` and `describe_table`. A recursive CTE is refused when the
connector's `max_recursion` is 0, and bounded to that many rows or iterations otherwise
(rendered as a LIMIT inside the CTE on SQLite; a LIMIT on every read of the CTE on
PostgreSQL, which has no recursion limit of its own but computes a CTE only as far as it is
read; a session limit on MySQL/MariaDB, see `engine.read_only_session`), and the statement
timeout and the row cap bound the total work. Anything that does not parse is refused.

`render` then writes the checked tree back out in the dialect, without comments, and that
text is what runs: the database executes exactly what was checked, so comment tricks (MySQL
`/*! ... */`), quoting or escaping ambiguities and unusual spellings cannot smuggle in
anything the parser did not see. Named `:parameters` become the driver's placeholders.
"""

from __future__ import annotations

import logging
import re
import secrets
from dataclasses import dataclass
from typing import Literal

import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel, SqlglotError

from connectors.errors import ConnectorError
from connectors.sql.functions import ALLOWED_CLASSES, ALLOWED_NAMES

# sqlglot warns with the submitted SQL in the message when it falls back to a Command; an
# agent's SQL may hold personal data, and the refusal already tells the agent what happened.
logging.getLogger("sqlglot").setLevel(logging.ERROR)

Dialect = Literal["postgres", "mysql", "sqlite"]
PlaceholderStyle = Literal["numeric", "qmark", "pyformat"]
"""`$1` (psycopg raw cursor), `?1` (sqlite3), `%(p1)s` (PyMySQL)."""

MAX_SQL_LENGTH = 100_000
PARAMETER_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")

_DISPLAY = {"postgres": "PostgreSQL", "mysql": "MySQL/MariaDB", "sqlite": "SQLite"}

_STATEMENTS = """
DML DDL Command Create Drop Alter AlterColumn TruncateTable Transaction Commit Rollback Set SetItem
Pragma Copy Use LoadData Attach Detach Grant Revoke Comment Describe Kill Analyze Cache Uncache
Refresh Execute Declare Show Summarize Export Merge Insert Update Delete
"""
_FORBIDDEN_NODES: tuple[type[exp.Expr], ...] = tuple(
    getattr(exp, name) for name in _STATEMENTS.split() if hasattr(exp, name)
)
"""Statements that write, change the schema, the session or the transaction, or run commands."""

_PG_PRIVATE_TABLES = frozenset(
    [
        "pg_authid",
        "pg_shadow",
        "pg_user_mapping",
        "pg_user_mappings",
        "pg_largeobject",
        "pg_stat_activity",
        "pg_stat_statements",
        "pg_hba_file_rules",
        "pg_ident_file_mappings",
        "pg_file_settings",
    ]
)
"""Password hashes, foreign-server credentials, large-object contents, other sessions' SQL."""
_MYSQL_PRIVATE_SCHEMAS = frozenset({"mysql", "performance_schema", "sys"})
_MYSQL_SHARED_SCHEMA = "information_schema"
_CATALOG_SCHEMAS: dict[Dialect, frozenset[str]] = {
    "postgres": frozenset({"pg_catalog", "information_schema", "pg_toast"}),
    "mysql": frozenset({"information_schema", "mysql", "performance_schema", "sys"}),
    "sqlite": frozenset(),
}
_SQLITE_CATALOG = frozenset(
    {"sqlite_master", "sqlite_schema", "sqlite_temp_master", "sqlite_temp_schema", "sqlite_sequence",
     "sqlite_stat1", "sqlite_stat2", "sqlite_stat3", "sqlite_stat4", "sqlite_dbpage", "dbstat"}
)  # fmt: skip


class QueryRefused(ConnectorError):
    """The SQL is not a single side-effect-free SELECT; nothing was sent to the database."""


@dataclass(frozen=True, slots=True)
class CheckedQuery:
    """A parsed query that passed every check, and the `:parameters` it binds (sorted)."""

    tree: exp.Query
    parameters: tuple[str, ...]


def refuse(reason: str) -> QueryRefused:
    return QueryRefused(f"query refused: {reason}")


def check_select(
    sql: str,
    dialect: Dialect,
    *,
    database: str | None = None,
    allow_catalogs: frozenset[str] = frozenset(),
    max_recursion: int = 10_000,
) -> CheckedQuery:
    """Parse and vet `sql`; raise QueryRefused saying what was refused and why.

    On MySQL, `database` (the connection's own) is the only database whose tables may be
    named, besides the catalogs of `allow_catalogs` ("schema.table" or "table", lower case).
    """
    if len(sql) > MAX_SQL_LENGTH:
        raise refuse(f"the SQL is longer than {MAX_SQL_LENGTH} characters")
    if "\x00" in sql:
        raise refuse("the SQL contains a NUL character")
    try:
        statements = [s for s in sqlglot.parse(sql, read=dialect, error_level=ErrorLevel.RAISE) if s]
    except (SqlglotError, RecursionError, ValueError) as exc:
        problem = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise refuse(f"it does not parse as {_DISPLAY[dialect]} SQL ({problem[:200]})") from None
    if len(statements) != 1:
        found = "no statement" if not statements else f"{len(statements)} statements"
        raise refuse(f"only a single SELECT is allowed; found {found}")
    root = statements[0]
    if isinstance(root, exp.Command) or not isinstance(root, exp.Select | exp.SetOperation):
        found = _statement_name(root) if isinstance(root, _FORBIDDEN_NODES) else _first_word(sql, dialect)
        raise refuse(f"only a single SELECT is allowed; found {found}")
    names: set[str] = set()
    for node in root.walk():
        if isinstance(node, exp.With) and node.args.get("recursive") and max_recursion <= 0:
            raise refuse(
                "recursive CTEs (WITH RECURSIVE) are turned off for this connector (max_recursion: 0)"
            )
        _check_node(node, dialect, names, database, allow_catalogs)
    return CheckedQuery(tree=root, parameters=tuple(sorted(names)))


def _check_node(
    node: exp.Expr, dialect: Dialect, names: set[str], database: str | None, allowed: frozenset[str]
) -> None:
    if isinstance(node, _FORBIDDEN_NODES):
        raise refuse(f"only a single SELECT is allowed; found {_statement_name(node)} {_where(node)}")
    if isinstance(node, exp.Into):
        raise refuse("SELECT ... INTO writes a table, file or variable; only plain SELECT is allowed")
    if isinstance(node, exp.Lock):
        raise refuse("locking clauses (FOR UPDATE, FOR SHARE, LOCK IN SHARE MODE) are not allowed")
    if isinstance(node, exp.Hint):
        raise refuse("optimizer hints are not allowed (some of them change session settings)")
    if isinstance(node, exp.PropertyEQ):
        raise refuse("assignments (:=) are not allowed")
    if isinstance(node, exp.SessionParameter | exp.Parameter):
        raise refuse(
            f"variables and positional parameters ({node.sql(dialect)}) are not allowed; "
            "use named :parameters"
        )
    if isinstance(node, exp.Placeholder):
        if not node.name or not PARAMETER_NAME.match(node.name):
            raise refuse(f"only named :parameters are allowed; found {node.sql(dialect)!r}")
        names.add(node.name)
    elif isinstance(node, exp.Func):
        _check_function(node, dialect)
    elif isinstance(node, exp.Dot) and isinstance(node.expression, exp.Func):
        raise refuse(f"schema-qualified function calls are not allowed ({node.sql(dialect)[:80]})")
    elif isinstance(node, exp.Table):
        _check_table(node, dialect, database, allowed)


def _check_function(node: exp.Func, dialect: Dialect) -> None:
    if isinstance(node, exp.Anonymous | exp.AnonymousAggFunc):
        name = node.name
        if name.lower() in ALLOWED_NAMES[dialect]:
            return
    elif type(node) in ALLOWED_CLASSES:
        return
    else:
        name = node.sql_name()
    raise refuse(
        f"function {name.upper()} is not on the allow-list of side-effect-free functions "
        f"for {_DISPLAY[dialect]}"
    )


def _check_table(node: exp.Table, dialect: Dialect, database: str | None, allowed: frozenset[str]) -> None:
    name, schema = node.name.lower(), node.db.lower()
    shown = f"{schema}.{name}" if schema else name
    private = (dialect == "postgres" and name in _PG_PRIVATE_TABLES) or (
        dialect == "mysql"
        and (schema in _MYSQL_PRIVATE_SCHEMAS or (schema, name) == (_MYSQL_SHARED_SCHEMA, "processlist"))
    )
    if private and shown not in allowed:
        raise refuse(f"{shown} holds credentials or server internals and is not readable here")
    if _is_catalog(name, schema, dialect) and shown not in allowed and name not in allowed:
        raise refuse(
            f"{shown} is a system catalog (it describes roles, grants, settings, other databases or "
            "the schema); list_tables and describe_table show this connector's own tables, and an "
            "operator can allow a catalog by name with the connector's allow_catalogs"
        )
    if dialect == "mysql" and database and schema and schema not in (database.lower(), _MYSQL_SHARED_SCHEMA):
        raise refuse(f"{shown} is in another database; this connector reads only '{database}'")


def _is_catalog(name: str, schema: str, dialect: Dialect) -> bool:
    if schema in _CATALOG_SCHEMAS[dialect]:
        return True
    if dialect == "postgres":
        return not schema and name.startswith("pg_")  # pg_catalog comes first on the search path
    if dialect == "sqlite":
        return name in _SQLITE_CATALOG
    return False


def _statement_name(node: exp.Expr) -> str:
    if isinstance(node, exp.Command):
        return f"{str(node.this).upper()} (a statement the parser does not model)"
    names = {"SetItem": "SET", "TruncateTable": "TRUNCATE", "LoadData": "LOAD DATA", "Describe": "EXPLAIN"}
    return names.get(type(node).__name__, node.key.upper())


def _first_word(sql: str, dialect: Dialect) -> str:
    try:
        word = next((token.text for token in sqlglot.tokenize(sql, read=dialect)), "")
    except (SqlglotError, RecursionError, ValueError):
        word = ""
    return f"a statement starting with {word.upper()[:30]}" if word else "something else"


def _where(node: exp.Expr) -> str:
    parent = node.parent
    while parent is not None:
        if isinstance(parent, exp.CTE):
            return "inside a WITH clause"
        if isinstance(parent, exp.Subquery):
            return "inside a subquery"
        parent = parent.parent
    return "inside the query"


def render(
    query: CheckedQuery,
    dialect: Dialect,
    style: PlaceholderStyle,
    *,
    row_cap: int,
    max_recursion: int = 10_000,
) -> str:
    """The checked tree as SQL text for the driver: no comments, `:name` -> placeholder.

    Parameter `query.parameters[i]` becomes `$<i+1>` / `?<i+1>` / `%(p<i+1>)s`; PyMySQL style
    also doubles every other '%' (only when there are parameters, as PyMySQL formats then).
    A missing, `ALL` or larger literal LIMIT becomes `LIMIT row_cap`, so the database stops early.
    """
    index = {name: i + 1 for i, name in enumerate(query.parameters)}
    marker = f"__param_{secrets.token_hex(8)}_"

    def swap(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.Placeholder):
            return exp.Var(this=f"{marker}{index[node.name]}_")
        return node

    tree = query.tree.transform(swap) if index else query.tree.copy()
    _cap_rows(tree, row_cap)
    if dialect == "sqlite":
        _cap_recursion(tree, max_recursion)
    elif dialect == "postgres":
        _cap_recursive_reads(tree, max_recursion)
    try:
        text = tree.sql(dialect=dialect, comments=False, unsupported_level=ErrorLevel.RAISE)
    except (SqlglotError, RecursionError, ValueError) as exc:
        raise refuse(f"it cannot be written back as {_DISPLAY[dialect]} SQL ({exc})") from None
    if not index:
        return text
    if style == "pyformat":
        text = text.replace("%", "%%")
    found = re.findall(re.escape(marker) + r"(\d+)_", text)
    if sorted(set(found)) != sorted(str(i) for i in index.values()):
        raise refuse("its parameters could not be placed")  # defensive: the marker is unguessable
    template = {"numeric": "${}", "qmark": "?{}", "pyformat": "%(p{})s"}[style]
    return re.sub(re.escape(marker) + r"(\d+)_", lambda m: template.format(m.group(1)), text)


def _cap_recursion(tree: exp.Expr, max_recursion: int) -> None:
    """SQLite stops a recursive CTE after the LIMIT of its compound SELECT: set ours there."""
    for with_ in tree.find_all(exp.With):
        if with_.args.get("recursive"):
            for cte in with_.expressions:
                if isinstance(cte.this, exp.SetOperation):
                    _cap_rows(cte.this, max_recursion)


def _cap_recursive_reads(tree: exp.Expr, max_recursion: int) -> None:
    """PostgreSQL has no recursion limit, but computes a recursive CTE only as far as its
    readers read (its documented behaviour): every read of one, other than its own recursive
    step, becomes `(SELECT * FROM name LIMIT max_recursion) AS name`, so it stops there."""
    for with_ in list(tree.find_all(exp.With)):
        if not with_.args.get("recursive") or with_.parent is None:
            continue
        names = {
            cte.alias_or_name
            for cte in with_.expressions
            if any(t.name == cte.alias_or_name and not t.args.get("db") for t in cte.this.find_all(exp.Table))
        }
        for table in list(with_.parent.find_all(exp.Table)):
            if table.name not in names or table.args.get("db"):
                continue
            own = table.find_ancestor(exp.CTE)
            if own is not None and own.alias_or_name == table.name:  # the recursive step itself
                continue
            alias = table.args.get("alias") or exp.TableAlias(this=exp.to_identifier(table.name))
            read = exp.select("*").from_(exp.to_identifier(table.name)).limit(max_recursion)
            table.replace(exp.Subquery(this=read, alias=alias.copy()))


def _cap_rows(tree: exp.Expr, row_cap: int) -> None:
    limit = tree.args.get("limit")
    if limit is None:
        tree.set("limit", exp.Limit(expression=exp.Literal.number(row_cap)))
        return
    count = limit.expression if isinstance(limit, exp.Limit) else None
    if (isinstance(count, exp.Var) and count.name.upper() == "ALL") or (
        isinstance(count, exp.Literal) and count.is_int and int(count.this) > row_cap
    ):
        limit.set("expression", exp.Literal.number(row_cap))
