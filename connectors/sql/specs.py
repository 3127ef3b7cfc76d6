"""The tool definitions a SQL connector offers: its built-in tools and its named queries."""

from __future__ import annotations

from typing import Any

from connectors.base import ToolSpec
from connectors.sql.config import NamedQuery, SqlConnectorConfig
from connectors.sql.engine import Kind
from connectors.sql.guard import MAX_SQL_LENGTH
from connectors.sql.run import Limits

_DB_NAMES = {"postgresql": "PostgreSQL", "mysql": "MySQL/MariaDB", "sqlite": "SQLite"}
_READ_ONLY = {"readOnlyHint": True, "destructiveHint": False, "idempotentHint": True, "openWorldHint": False}
_SCALAR = {"type": ["string", "number", "boolean", "null"]}
_ROWS_OUTPUT: dict[str, Any] = {
    "type": "object",
    "properties": {
        "columns": {"type": "array", "items": {"type": "string"}},
        "rows": {"type": "array", "items": {"type": "array"}},
        "row_count": {"type": "integer"},
        "truncated": {"type": "boolean"},
        "truncated_reason": {"enum": ["max_rows", "max_bytes", "max_recursion", None]},
    },
    "required": ["columns", "rows", "row_count", "truncated", "truncated_reason"],
}
_VALUES = (
    "Values: DECIMAL/NUMERIC as strings (exact), dates and times as ISO 8601, binary as base64, JSON as JSON."
)


def builtin_spec(tool: str, config: SqlConnectorConfig, kind: Kind, limits: Limits) -> ToolSpec:
    """The definition of a built-in tool (list_tables, describe_table, query) of a connector."""
    db, name = _DB_NAMES[kind], config.name
    about = f" ({config.description})" if config.description else ""
    if tool == "list_tables":
        return ToolSpec(
            name=tool,
            description=f"List the tables and views of the {db} database '{name}'{about}"
            + (", as schema.name." if kind == "postgresql" else "."),
            input_schema={"type": "object", "properties": {}, "additionalProperties": False},
            annotations=_READ_ONLY,
        )
    if tool == "describe_table":
        return ToolSpec(
            name=tool,
            description=f"Describe one table or view of '{name}': columns with type, nullability "
            "and default, primary key and foreign keys.",
            input_schema={
                "type": "object",
                "properties": {
                    "table": {
                        "type": "string",
                        "minLength": 1,
                        "maxLength": 500,
                        "description": "The table's name as list_tables gives it.",
                    }
                },
                "required": ["table"],
                "additionalProperties": False,
            },
            annotations=_READ_ONLY,
        )
    return ToolSpec(
        name=tool,
        description=f"Run one read-only SELECT in {db} syntax on '{name}'{about}. Bind values "
        "as :name placeholders with 'parameters' instead of writing them into the SQL. Writes, "
        "locking, session changes and functions with side effects are refused. At most "
        f"{limits.max_rows} rows and {limits.max_bytes} bytes come back ('truncated' says when more "
        f"exist); statements stop after {limits.timeout:g} s. Name computed columns with AS. {_VALUES}",
        input_schema={
            "type": "object",
            "properties": {
                "sql": {"type": "string", "minLength": 1, "maxLength": MAX_SQL_LENGTH},
                "parameters": {
                    "type": "object",
                    "additionalProperties": _SCALAR,
                    "description": "Values for the :name placeholders in sql.",
                },
                "max_rows": {"type": "integer", "minimum": 1, "maximum": limits.max_rows},
            },
            "required": ["sql"],
            "additionalProperties": False,
        },
        output_schema=_ROWS_OUTPUT,
        annotations=_READ_ONLY,
    )


def named_spec(query: NamedQuery) -> ToolSpec:
    annotations = query.annotations.model_dump(exclude_none=True) if query.annotations else {}
    return ToolSpec(
        name=query.name,
        description=f"{query.description}\n\n{_VALUES}",
        input_schema=query.parameters,
        output_schema=_ROWS_OUTPUT,
        annotations={**_READ_ONLY, **annotations, "readOnlyHint": True, "destructiveHint": False},
    )
