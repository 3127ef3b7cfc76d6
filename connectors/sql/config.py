"""The configuration of a SQL connector: the database, its limits, the built-in tools it
exposes and the named queries it offers (each checked by the guard when the config is read)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from connectors.auth import SecretRef
from connectors.base import TOOL_NAME
from connectors.fields import MIB, ConnectorName, MaxResponseBytes, check_object_schema
from connectors.http.connector import ToolAnnotations
from connectors.sql.engine import DIALECTS, parse_url
from connectors.sql.guard import MAX_SQL_LENGTH, QueryRefused, check_select

BuiltinTool = Literal["list_tables", "describe_table", "query"]
BUILTIN_TOOLS: tuple[BuiltinTool, ...] = ("list_tables", "describe_table", "query")


def param_names(names: Sequence[str] | set[str]) -> str:
    return ", ".join(f":{name}" for name in sorted(names)) or "nothing"


class NamedQuery(BaseModel):
    """A fixed, reviewed SELECT offered as its own tool; arguments bind its `:parameters`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(
        pattern=TOOL_NAME.pattern, description="Tool name within the connector (letters, digits, '_', '-')."
    )
    description: str = Field(max_length=10_000, description="What the query answers, written for the agent.")
    sql: str = Field(
        min_length=1,
        max_length=MAX_SQL_LENGTH,
        description="One read-only SELECT; named parameters are written :name and bound, never "
        "interpolated. On PostgreSQL a parameter whose type the server cannot infer (`:x IS NULL`) "
        "needs a cast: CAST(:x AS TEXT).",
    )
    parameters: dict[str, Any] = Field(
        default_factory=lambda: {"type": "object", "properties": {}},
        description="JSON Schema (Draft 2020-12, top level 'type: object') of the arguments; its "
        "properties are exactly the :parameters of `sql`. Values must be strings, numbers, booleans or null.",
    )
    annotations: ToolAnnotations | None = Field(None, description="MCP tool annotations.")

    @field_validator("parameters")
    @classmethod
    def _check_schema(cls, schema: dict[str, Any]) -> dict[str, Any]:
        return check_object_schema(schema)


class SqlConnectorConfig(BaseModel):
    """A database reached through a SQLAlchemy URL, offered as read-only tools."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["sql"] = Field(description="Connector kind.")
    name: ConnectorName
    description: str = Field("", description="What this database holds, for operators and agents.")
    url: str = Field(
        description="SQLAlchemy URL without a password: sqlite:///path/to.db, "
        "postgresql+psycopg://user@host:5432/db or mysql+pymysql://user@host:3306/db.",
    )
    read_only: Literal[True] = Field(True, description="Always true: this connector has no write mode.")
    max_rows: int = Field(500, ge=1, le=100_000, description="Most rows one call returns.")
    max_bytes: MaxResponseBytes = MIB
    statement_timeout_seconds: float = Field(
        5.0, gt=0, le=300, description="Seconds a statement may run before the database cancels it."
    )
    expose: list[BuiltinTool] = Field(
        list(BUILTIN_TOOLS),
        description="Built-in tools to offer: list_tables, describe_table, query (free-form SQL).",
    )
    queries: list[NamedQuery] = Field([], description="Named queries, each offered as its own tool.")
    allow_catalogs: list[
        Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*)?$")]
    ] = Field(
        [],
        description="System catalogs queries may read, as 'schema.table' or 'table' (e.g. "
        "'information_schema.columns'). By default every catalog is refused: they describe roles, "
        "grants, settings and other databases; list_tables and describe_table cover this connector's tables.",
    )
    max_recursion: int = Field(
        10_000,
        ge=0,
        le=1_000_000,
        description="Most iterations (MySQL/MariaDB) or rows (SQLite) of a recursive CTE; 0 refuses WITH "
        "RECURSIVE. PostgreSQL has no such limit: its recursive CTEs are bounded by the statement timeout.",
    )
    password: SecretRef | None = Field(
        None,
        description="The database password, from the gateway's secret store (`{secret: NAME}`, optionally "
        "`per_agent`); injected when a connection is opened, never stored in the URL.",
    )

    @field_validator("url")
    @classmethod
    def _check_url(cls, url: str) -> str:
        parse_url(url)
        return url

    @field_validator("expose")
    @classmethod
    def _unique_tools(cls, expose: list[BuiltinTool]) -> list[BuiltinTool]:
        if len(set(expose)) != len(expose):
            raise ValueError("names a tool twice")
        return expose

    @model_validator(mode="after")
    def _check_queries(self) -> Self:
        url, kind = parse_url(self.url)
        dialect = DIALECTS[kind]
        seen: set[str] = set(BUILTIN_TOOLS)
        for query in self.queries:
            if query.name in seen:
                raise ValueError(f"query name '{query.name}' is used twice or is a built-in tool's name")
            seen.add(query.name)
            try:
                checked = check_select(
                    query.sql,
                    dialect,
                    database=url.database,
                    allow_catalogs=self.catalogs(),
                    max_recursion=self.max_recursion,
                )
            except QueryRefused as exc:
                raise ValueError(f"query '{query.name}': {exc.message}") from None
            declared = set(query.parameters.get("properties", {}))
            if declared != set(checked.parameters):
                raise ValueError(
                    f"query '{query.name}': the SQL binds {param_names(checked.parameters)} but the "
                    f"parameters schema declares {param_names(declared)}; they must match"
                )
        if not self.expose and not self.queries:
            raise ValueError("offers no tools: expose a built-in tool or declare a query")
        if self.password is not None and kind == "sqlite":
            raise ValueError("a SQLite file has no password; remove `password`")
        return self

    def catalogs(self) -> frozenset[str]:
        return frozenset(name.lower() for name in self.allow_catalogs)
