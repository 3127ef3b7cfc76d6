"""A database's tables and named queries as MCP resources, through the same read-only layers.

Local URIs (the broker shows them as `broker://<connector>/<uri>`):

- `tables`: the tables and views the connection can see (JSON), a listed resource;
- `tables/{table}` (a template): one table's schema and a bounded sample of its rows
  (`SAMPLE_ROWS`, and never more than `max_rows`/`max_bytes`);
- `queries/<name>{?param,...}` (a template per named query): the query's rows, its
  `:parameters` bound from the URI's query string.

Every read runs as the tools do: table names are resolved against the listing (never
interpolated), the sample's SELECT is built by sqlglot and passes the guard like any query,
in a read-only session with the statement timeout.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote

import sqlglot.expressions as exp

from connectors.base import NO_CONTEXT, CallContext, ResourceOutput, ResourceSpec, ResourceTemplateSpec
from connectors.errors import UnknownResource
from connectors.sql.guard import check_select, render
from connectors.sql.run import PLACEHOLDERS, Limits, bind
from connectors.sql.schema import describe, list_tables, resolve

if TYPE_CHECKING:
    from connectors.sql.connector import SqlConnector

SAMPLE_ROWS = 20
JSON = "application/json"


def resource_specs(connector: SqlConnector) -> tuple[ResourceSpec, ...]:
    return (
        ResourceSpec(
            uri="tables",
            name=f"{connector.name} tables",
            description=f"The tables and views of database '{connector.name}'.",
            mime_type=JSON,
        ),
    )


def template_specs(connector: SqlConnector) -> tuple[ResourceTemplateSpec, ...]:
    tables = ResourceTemplateSpec(
        uri_template="tables/{table}",
        name=f"{connector.name} table",
        description=f"One table of database '{connector.name}': its columns and up to {SAMPLE_ROWS} rows.",
        mime_type=JSON,
    )
    queries = tuple(
        ResourceTemplateSpec(
            uri_template=f"queries/{query.name}" + _query_part(connector.named_parameters(query.name) or ()),
            name=f"{connector.name} {query.name}",
            description=query.description,
            mime_type=JSON,
        )
        for query in connector.config.queries
    )
    return (tables, *queries)


def _query_part(parameters: tuple[str, ...]) -> str:
    return "{?" + ",".join(parameters) + "}" if parameters else ""


async def read(connector: SqlConnector, uri: str, context: CallContext = NO_CONTEXT) -> ResourceOutput:
    if uri == "tables":
        return _json(uri, await _tables(connector, context))
    if uri.startswith("tables/"):
        return _json(uri, await _table(connector, unquote(uri[len("tables/") :]), context))
    if uri.startswith("queries/"):
        name, _, query = uri[len("queries/") :].partition("?")
        if connector.named_parameters(name) is not None:
            arguments = dict(parse_qsl(query, keep_blank_values=True))
            answer = await connector.call(name, arguments, context)
            return _json(uri, answer.structured)
    raise UnknownResource(f"database '{connector.name}' has no resource '{uri[:200]}'")


async def _tables(connector: SqlConnector, context: CallContext) -> dict[str, Any]:
    db = await connector.database(context)
    tables = await connector.in_thread(
        lambda: connector.inspect(db, lambda conn: list_tables(conn, connector.kind))
    )
    return {"tables": [ref.as_json() for ref in tables]}


async def _table(connector: SqlConnector, name: str, context: CallContext) -> dict[str, Any]:
    db = await connector.database(context)

    def look(conn: Any) -> tuple[dict[str, Any], exp.Table]:
        ref = resolve(list_tables(conn, connector.kind), name, connector.name)
        table = exp.Table(
            this=exp.to_identifier(ref.name, quoted=True),
            db=exp.to_identifier(ref.schema, quoted=True) if ref.schema else None,
        )
        return describe(conn, ref), table

    schema, table = await connector.in_thread(lambda: connector.inspect(db, look))
    sql = exp.select("*").from_(table).sql(dialect=connector.dialect)
    checked = check_select(sql, connector.dialect, database=connector.database_name)
    limits = connector.limits
    sample_limits = Limits(min(SAMPLE_ROWS, limits.max_rows), limits.max_bytes, limits.timeout)
    style = PLACEHOLDERS[connector.kind]
    rendered = render(checked, connector.dialect, style, row_cap=sample_limits.max_rows + 1)
    args = bind(connector.kind, (), {})
    sample = await connector.in_thread(lambda: connector.select(db, rendered, args, sample_limits))
    return {"table": schema, "sample": sample}


def _json(uri: str, value: Any) -> ResourceOutput:
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return ResourceOutput(contents=[{"uri": uri, "mimeType": JSON, "text": text}])
