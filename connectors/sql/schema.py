"""Schema lookups for `list_tables` and `describe_table`, through SQLAlchemy's inspector.

Names are never put into SQL text by this module: `describe_table` takes a name the agent
gave, finds it in the live list of tables, and hands the inspector the listed schema and
name, which it binds or quotes itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from connectors.errors import ConnectorError
from connectors.sql.engine import Kind

TableType = Literal["table", "view", "materialized view"]
_PG_HIDDEN_SCHEMAS = ("pg_catalog", "information_schema")
_PG_HIDDEN_PREFIXES = ("pg_toast", "pg_temp_")


@dataclass(frozen=True, slots=True)
class TableRef:
    schema: str | None
    name: str
    type: TableType

    @property
    def qualified(self) -> str:
        """How tools name the table: `schema.name` on PostgreSQL, `name` elsewhere."""
        return f"{self.schema}.{self.name}" if self.schema else self.name

    def as_json(self) -> dict[str, Any]:
        return {"name": self.qualified, "schema": self.schema, "type": self.type}


def list_tables(conn: Connection, kind: Kind) -> list[TableRef]:
    """Tables and views the connection can see: every user schema on PostgreSQL, else the database's own."""
    inspector = inspect(conn)
    schemas: list[str | None] = [None]
    if kind == "postgresql":
        schemas = [
            schema
            for schema in inspector.get_schema_names()
            if schema not in _PG_HIDDEN_SCHEMAS and not schema.startswith(_PG_HIDDEN_PREFIXES)
        ]
    found: list[TableRef] = []
    for schema in schemas:
        found += [TableRef(schema, name, "table") for name in inspector.get_table_names(schema)]
        found += [TableRef(schema, name, "view") for name in inspector.get_view_names(schema)]
        if kind == "postgresql":
            found += [
                TableRef(schema, name, "materialized view")
                for name in inspector.get_materialized_view_names(schema)
            ]
    return sorted(found, key=lambda ref: (ref.schema or "", ref.name))


def resolve(tables: list[TableRef], name: str, connector: str) -> TableRef:
    """The listed table an agent meant: its exact listed name, or a bare name that is unambiguous."""
    for ref in tables:
        if ref.qualified == name:
            return ref
    for candidates in (
        [ref for ref in tables if ref.name == name],
        [ref for ref in tables if name.lower() in (ref.qualified.lower(), ref.name.lower())],
    ):
        if len(candidates) == 1:
            return candidates[0]
        if len(candidates) > 1:
            names = ", ".join(ref.qualified for ref in candidates)
            raise ConnectorError(f"database '{connector}': '{name}' is ambiguous; use one of {names}")
    raise ConnectorError(
        f"database '{connector}' has no table or view named '{name[:200]}'; list_tables gives the names"
    )


def describe(conn: Connection, ref: TableRef) -> dict[str, Any]:
    """Columns (name, type, nullability, default, comment), primary key and foreign keys of one table."""
    inspector = inspect(conn)
    primary_key = inspector.get_pk_constraint(ref.name, ref.schema).get("constrained_columns") or []
    columns = [
        {
            "name": column["name"],
            "type": _type_name(column["type"], conn),
            "nullable": bool(column.get("nullable", True)),
            "default": None if column.get("default") is None else str(column.get("default")),
            "primary_key": column["name"] in primary_key,
            "comment": column.get("comment"),
        }
        for column in inspector.get_columns(ref.name, ref.schema)
    ]
    foreign_keys = [
        {
            "columns": list(fk["constrained_columns"]),
            "references": TableRef(
                fk.get("referred_schema") or (inspector.default_schema_name if ref.schema else None),
                fk["referred_table"],
                "table",
            ).qualified,
            "referenced_columns": list(fk["referred_columns"]),
        }
        for fk in (inspector.get_foreign_keys(ref.name, ref.schema) if ref.type == "table" else [])
    ]
    return {
        **ref.as_json(),
        "columns": columns,
        "primary_key": list(primary_key),
        "foreign_keys": foreign_keys,
    }


def _type_name(column_type: Any, conn: Connection) -> str:
    try:
        return str(column_type.compile(dialect=conn.dialect))
    except Exception:  # an exotic type the dialect cannot spell back
        return type(column_type).__name__.upper()
