"""Validation of HTTP connector configs: errors must point at the field an operator got wrong."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from connectors.http.connector import HttpConnectorConfig, HttpToolConfig, tool_spec

CITY_SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
    "required": ["city"],
}


def tool(**overrides: Any) -> dict[str, Any]:
    return {
        "name": "forecast",
        "description": "Weather forecast for a city.",
        "path": "/forecast/{city}",
        "input_schema": CITY_SCHEMA,
        **overrides,
    }


def connector(**overrides: Any) -> dict[str, Any]:
    return {
        "kind": "http",
        "name": "weather",
        "base_url": "https://api.example.com/v1",
        "tools": [tool()],
        **overrides,
    }


def error_locs(data: dict[str, Any]) -> list[tuple[str | int, ...]]:
    with pytest.raises(ValidationError) as caught:
        HttpConnectorConfig.model_validate(data)
    return [error["loc"] for error in caught.value.errors()]


def error_text(data: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as caught:
        HttpConnectorConfig.model_validate(data)
    return str(caught.value)


def test_a_minimal_config_gets_the_documented_defaults() -> None:
    config = HttpConnectorConfig.model_validate(connector())
    assert config.timeout_seconds == 10
    assert config.max_response_bytes == 1024 * 1024
    only = config.tools[0]
    assert (only.method, only.query, only.body, only.body_argument) == ("GET", [], None, None)


def test_method_is_case_insensitive() -> None:
    config = HttpConnectorConfig.model_validate(connector(tools=[tool(method="post")]))
    assert config.tools[0].method == "POST"


def test_get_tools_are_read_only_unless_annotated_otherwise() -> None:
    config = HttpConnectorConfig.model_validate(
        connector(
            tools=[
                tool(),
                tool(name="annotated", annotations={"readOnlyHint": False, "title": "Forecast"}),
                tool(name="create", method="POST"),
            ]
        )
    )
    specs = [tool_spec(each) for each in config.tools]
    assert [spec.annotations for spec in specs] == [
        {"readOnlyHint": True},
        {"readOnlyHint": False, "title": "Forecast"},
        None,
    ]


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/forecast/{town}", "placeholder '{town}' must be a required property"),
        ("/forecast/{days}", "placeholder '{days}' must be a required property"),
        ("forecast/{city}", "must start with '/'"),
        ("/forecast/{city", "not part of a '{name}' placeholder"),
        ("/forecast/{city}?units=metric", "must not contain '?'"),
        ("/{city}/{city}", "uses a placeholder twice"),
    ],
)
def test_bad_path_templates_are_reported_on_the_path(path: str, message: str) -> None:
    data = connector(tools=[tool(path=path)])
    assert error_locs(data) == [("tools", 0, "path")]
    assert message in error_text(data)


def test_duplicate_tool_names_are_reported_on_tools() -> None:
    data = connector(tools=[tool(), tool(description="again")])
    assert error_locs(data) == [("tools",)]
    assert "tool name 'forecast' is used more than once" in error_text(data)


def test_a_connector_needs_at_least_one_tool() -> None:
    assert error_locs(connector(tools=[])) == [("tools",)]


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        ({"type": "object", "properties": {"city": {"type": "strang"}}}, "not a valid JSON Schema"),
        ({"type": "array"}, 'must have "type": "object"'),
        ({"properties": {}}, 'must have "type": "object"'),
    ],
)
def test_invalid_input_schemas_are_reported_on_input_schema(schema: dict[str, Any], message: str) -> None:
    data = connector(tools=[tool(path="/forecast", input_schema=schema)])
    assert error_locs(data) == [("tools", 0, "input_schema")]
    assert message in error_text(data)


def test_invalid_output_schema_is_reported_on_output_schema() -> None:
    data = connector(tools=[tool(output_schema={"type": "string"})])
    assert error_locs(data) == [("tools", 0, "output_schema")]


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"query": ["units"]}, "query", "'units' is not a property of input_schema"),
        ({"query": ["city"]}, "query", "'city' is already mapped"),
        ({"query": ["days", "days"]}, "query", "names an argument twice"),
        ({"body": ["days"]}, "body", "GET tools cannot send a body"),
        ({"method": "POST", "query": ["days"], "body": ["days"]}, "body", "'days' is already mapped"),
        ({"method": "POST", "body": [], "body_argument": "days"}, "body_argument", "cannot be combined"),
        ({"body_argument": "days"}, "body_argument", "GET tools cannot send a body"),
        ({"name": "has space"}, "name", "String should match pattern"),
        ({"method": "HEAD"}, "method", "Input should be"),
        ({"headers": {"Bad Header": "x"}}, "headers", "not a valid header name"),
        ({"headers": {"X-Ok": "a\r\nInjected: 1"}}, "headers", "line break"),
        ({"annotations": {"readOnly": True}}, "annotations", "Extra inputs are not permitted"),
        ({"timeout": 3}, "timeout", "Extra inputs are not permitted"),
    ],
)
def test_tool_field_errors_point_at_the_field(overrides: dict[str, Any], field: str, message: str) -> None:
    data = connector(tools=[tool(**overrides)])
    assert [loc[:3] for loc in error_locs(data)] == [("tools", 0, field)]
    assert message in error_text(data)


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"base_url": "ftp://files.example.com"}, "base_url", "must be an http:// or https:// URL"),
        ({"base_url": "https://user:secret@api.example.com"}, "base_url", "must not contain a user name"),
        ({"base_url": "https://api.example.com/v1?key=1"}, "base_url", "must not contain a query"),
        ({"base_url": "/relative"}, "base_url", "must be an http"),
        ({"name": "Weather"}, "name", "String should match pattern"),
        ({"timeout_seconds": 0}, "timeout_seconds", "greater than 0"),
        ({"timeout_seconds": 301}, "timeout_seconds", "less than or equal to 300"),
        ({"max_response_bytes": 0}, "max_response_bytes", "greater than or equal to 1"),
        ({"max_response_bytes": 65 * 1024 * 1024}, "max_response_bytes", "less than or equal to"),
        ({"kind": "sql"}, "kind", "Input should be 'http'"),
    ],
)
def test_connector_field_errors_point_at_the_field(
    overrides: dict[str, Any], field: str, message: str
) -> None:
    data = connector(**overrides)
    assert error_locs(data) == [(field,)]
    assert message in error_text(data)


def test_configs_round_trip_through_json() -> None:
    config = HttpConnectorConfig.model_validate(
        connector(tools=[tool(method="POST", query=["days"], annotations={"title": "Forecast"})])
    )
    assert HttpConnectorConfig.model_validate_json(config.model_dump_json()) == config


def test_tool_config_json_schema_carries_descriptions() -> None:
    schema = HttpToolConfig.model_json_schema()
    assert schema["additionalProperties"] is False
    assert "placeholders" in schema["properties"]["path"]["description"]
