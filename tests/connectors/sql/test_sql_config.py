"""The `kind: sql` config: what an operator may write, and what is refused at registration."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from connectors.base import Connector
from connectors.registry import ConnectorConfigAdapter, build
from connectors.sql.config import SqlConnectorConfig
from connectors.sql.connector import SqlConnector

CRM_YAML = """
kind: sql
name: crm_db
description: CRM database (customers, contacts, deals)
url: postgresql+psycopg://broker_reader@db.internal:5432/crm
max_rows: 200
max_bytes: 262144
statement_timeout_seconds: 3
expose: [list_tables, describe_table]
queries:
  - name: top_customers
    description: Customers with the highest revenue in one country.
    sql: >
      SELECT name, revenue FROM customers
      WHERE country = :country ORDER BY revenue DESC LIMIT :limit
    parameters:
      type: object
      properties:
        country: {type: string, minLength: 2, maxLength: 2}
        limit: {type: integer, minimum: 1, maximum: 50}
      required: [country, limit]
      additionalProperties: false
    annotations: {title: Top customers}
"""


def crm(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(CRM_YAML)
    data.update(changes)
    return data


def query(**changes: Any) -> dict[str, Any]:
    named: dict[str, Any] = {
        "name": "q",
        "description": "d",
        "sql": "SELECT name FROM customers WHERE id = :id",
        "parameters": {"type": "object", "properties": {"id": {"type": "integer"}}},
    }
    named.update(changes)
    return named


def test_the_yaml_example_validates_and_round_trips_through_the_registry() -> None:
    config = ConnectorConfigAdapter.validate_python(yaml.safe_load(CRM_YAML))
    assert isinstance(config, SqlConnectorConfig)
    assert config.read_only is True and config.expose == ["list_tables", "describe_table"]
    stored = ConnectorConfigAdapter.dump_json(config)
    assert ConnectorConfigAdapter.validate_json(stored) == config
    connector = build(config)
    assert isinstance(connector, SqlConnector) and isinstance(connector, Connector)
    assert [spec.name for spec in connector.tools()] == ["list_tables", "describe_table", "top_customers"]
    assert connector.secret_refs() == frozenset()


def test_defaults() -> None:
    config = SqlConnectorConfig(kind="sql", name="lite", url="sqlite:///crm.db")
    assert config.max_rows == 500 and config.max_bytes == 1024 * 1024
    assert config.statement_timeout_seconds == 5 and config.expose == [
        "list_tables",
        "describe_table",
        "query",
    ]
    assert config.queries == []


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("postgresql://reader:hunter2@db/crm", "must not contain a password"),
        ("mysql+pymysql://root:pw@db/crm", "must not contain a password"),
        ("sqlite://", "must name a SQLite file"),
        ("sqlite:///:memory:", "must name a SQLite file"),
        ("sqlite:///crm.db?mode=rw", "always opened read-only"),
        ("postgresql+asyncpg://db/crm", r"got postgresql\+asyncpg"),
        ("oracle://db/crm", "got oracle"),
        ("postgresql://db", "must name a host and a database"),
        ("not a url", "is not a SQLAlchemy URL"),
    ],
)
def test_bad_urls_are_refused(url: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        SqlConnectorConfig.model_validate(crm(url=url))


def test_urls_are_pinned_to_the_supported_drivers() -> None:
    for url in ("postgresql://db/crm", "mysql://db/crm", "mariadb://db/crm", "sqlite:////var/crm.db"):
        SqlConnectorConfig.model_validate(crm(url=url, queries=[]))


@pytest.mark.parametrize(
    ("named", "message"),
    [
        (query(sql="DELETE FROM customers WHERE id = :id"), "query 'q': query refused: .*found DELETE"),
        (query(sql="SELECT pg_sleep(:id)"), "function PG_SLEEP is not on the allow-list"),
        (query(sql="SELECT name FROM customers WHERE id = :ident"), "binds :ident but .* declares :id"),
        (
            query(parameters={"type": "object", "properties": {}}),
            "binds :id but the parameters schema declares nothing",
        ),
        (query(parameters={"type": "array"}), 'must have "type": "object"'),
        (query(parameters={"type": "object", "properties": 3}), "not a valid JSON Schema"),
        (query(name="query"), "built-in tool's name"),
        (query(name="crm.top"), "String should match pattern"),
        (query(sql="SELECT 1 AS a; SELECT 2 AS b", parameters={"type": "object"}), "found 2 statements"),
    ],
)
def test_named_queries_are_checked_at_registration(named: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        SqlConnectorConfig.model_validate(crm(queries=[named]))


def test_named_query_names_are_unique() -> None:
    with pytest.raises(ValidationError, match="used twice"):
        SqlConnectorConfig.model_validate(crm(queries=[query(), query()]))


def test_named_queries_are_checked_in_the_connectors_dialect() -> None:
    backticks = query(sql="SELECT `name` FROM customers WHERE id = :id")
    SqlConnectorConfig.model_validate(crm(url="mysql+pymysql://reader@db/crm", queries=[backticks]))
    with pytest.raises(ValidationError, match="function SLEEP"):
        SqlConnectorConfig.model_validate(
            crm(url="mysql+pymysql://reader@db/crm", queries=[query(sql="SELECT SLEEP(:id)")])
        )


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"read_only": False}, "Input should be True"),
        ({"expose": ["query", "query"]}, "names a tool twice"),
        ({"expose": ["execute"]}, "Input should be"),
        ({"expose": [], "queries": []}, "offers no tools"),
        ({"max_rows": 0}, "greater than or equal to 1"),
        ({"statement_timeout_seconds": 0}, "greater than 0"),
        ({"password": "x"}, "Input should be a valid dictionary or instance of SecretRef"),
    ],
)
def test_other_fields_are_validated(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        SqlConnectorConfig.model_validate(crm(**changes))


def test_named_query_tool_spec() -> None:
    connector = SqlConnector(SqlConnectorConfig.model_validate(yaml.safe_load(CRM_YAML)))
    spec = connector.tools()[-1]
    assert spec.name == "top_customers"
    assert spec.input_schema["required"] == ["country", "limit"]
    assert spec.annotations == {
        "readOnlyHint": True,
        "destructiveHint": False,
        "idempotentHint": True,
        "openWorldHint": False,
        "title": "Top customers",
    }
    assert spec.output_schema is not None and "truncated_reason" in spec.output_schema["properties"]


def test_the_query_tool_describes_its_limits() -> None:
    config = SqlConnectorConfig.model_validate(crm(expose=["query"], queries=[], max_rows=42))
    spec = SqlConnector(config).tools()[0]
    assert "PostgreSQL" in spec.description and "42 rows" in spec.description
    assert spec.input_schema["properties"]["max_rows"] == {"type": "integer", "minimum": 1, "maximum": 42}
    assert spec.input_schema["required"] == ["sql"]
