"""From a stored config to a running connector: prepare once (network), build at startup (none)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import yaml
from pydantic import ValidationError

from connectors.base import Connector
from connectors.errors import ConnectorConfigError
from connectors.http.connector import HttpConnectorConfig
from connectors.http.openapi import OpenAPIConnectorConfig
from connectors.registry import ConnectorConfigAdapter, build, prepare

HTTP_YAML = """
kind: http
name: weather
description: Weather forecasts
base_url: https://api.weather.example/v1
timeout_seconds: 5
headers: {X-Api-Version: "2"}
tools:
  - name: forecast
    description: Forecast for a city, up to 7 days ahead.
    method: GET
    path: /forecast/{city}
    query: [days]
    input_schema:
      type: object
      properties:
        city: {type: string}
        days: {type: integer, minimum: 1, maximum: 7}
      required: [city]
"""

OPENAPI_YAML = """
kind: openapi
name: items
spec_url: {spec_url}
allow_private_network: true
include: ["*_item", list_items]
exclude: [delete_*]
timeout_seconds: 5
"""


def no_network(request: httpx.Request) -> httpx.Response:
    raise AssertionError(f"no request expected, got {request.method} {request.url}")


def test_the_kind_picks_the_model() -> None:
    config = ConnectorConfigAdapter.validate_python(yaml.safe_load(HTTP_YAML))
    assert isinstance(config, HttpConnectorConfig)
    assert config.tools[0].query == ["days"]
    openapi = ConnectorConfigAdapter.validate_python(
        {"kind": "openapi", "name": "x", "spec_url": "https://x.example/openapi.json"}
    )
    assert isinstance(openapi, OpenAPIConnectorConfig)


@pytest.mark.parametrize(
    ("data", "loc"),
    [
        ({"kind": "ftp", "name": "x"}, ()),
        ({"name": "x"}, ()),
        ({"kind": "openapi", "name": "x", "spec": {"swagger": "2.0"}}, ("openapi", "spec")),
        ({"kind": "http", "name": "x", "base_url": "https://x.example", "tools": []}, ("http", "tools")),
    ],
)
def test_errors_are_located_under_the_kind(data: dict[str, Any], loc: tuple[str, ...]) -> None:
    with pytest.raises(ValidationError) as caught:
        ConnectorConfigAdapter.validate_python(data)
    assert [error["loc"] for error in caught.value.errors()] == [loc]


def test_the_admin_schema_covers_every_kind() -> None:
    schema = ConnectorConfigAdapter.json_schema()
    assert set(schema["discriminator"]["mapping"]) == {"http", "openapi", "mcp", "sql"}


async def test_prepare_keeps_an_http_config() -> None:
    config = ConnectorConfigAdapter.validate_python(yaml.safe_load(HTTP_YAML))
    assert (await prepare(config)).config is config


async def test_prepare_imports_openapi_once_and_build_needs_no_network(upstream: str) -> None:
    registered = ConnectorConfigAdapter.validate_python(
        yaml.safe_load(OPENAPI_YAML.format(spec_url=f"{upstream}/openapi.json"))
    )
    prepared = (await prepare(registered)).config
    assert isinstance(prepared, HttpConnectorConfig)
    assert [tool.name for tool in prepared.tools] == ["list_items", "create_item", "get_item"]
    assert prepared.timeout_seconds == 5

    stored = ConnectorConfigAdapter.dump_json(prepared)
    restored = ConnectorConfigAdapter.validate_json(stored)
    assert restored == prepared

    offline = build(restored, transport=httpx.MockTransport(no_network))
    assert isinstance(offline, Connector)
    assert [spec.name for spec in offline.tools()] == ["list_items", "create_item", "get_item"]
    await offline.aclose()

    connector = build(restored)
    try:
        created = await connector.call("create_item", {"name": "chair", "price": 30})
        assert created.structured is not None and created.structured["name"] == "chair"
    finally:
        await connector.aclose()


async def test_prepare_reports_import_problems_as_config_errors(closed_port: int) -> None:
    config = ConnectorConfigAdapter.validate_python(
        {
            "kind": "openapi",
            "name": "x",
            "spec_url": f"http://127.0.0.1:{closed_port}/openapi.json",
            "allow_private_network": True,
        }
    )
    with pytest.raises(ConnectorConfigError, match="cannot connect"):
        await prepare(config)


async def test_build_converts_an_inline_openapi_spec() -> None:
    config = ConnectorConfigAdapter.validate_python(
        {
            "kind": "openapi",
            "name": "inline",
            "base_url": "https://inline.example",
            "spec": {
                "openapi": "3.1.0",
                "info": {"title": "Inline", "version": "1"},
                "paths": {
                    "/ping": {"get": {"operationId": "ping", "responses": {"204": {"description": "pong"}}}}
                },
            },
        }
    )
    connector = build(config, transport=httpx.MockTransport(lambda request: httpx.Response(204)))
    try:
        assert [spec.name for spec in connector.tools()] == ["ping"]
        assert (await connector.call("ping", {})).meta == {"http_status": 204}
    finally:
        await connector.aclose()


def test_build_refuses_an_openapi_config_that_was_not_prepared() -> None:
    config = ConnectorConfigAdapter.validate_python(
        {"kind": "openapi", "name": "x", "spec_url": "https://x.example/openapi.json"}
    )
    with pytest.raises(ConnectorConfigError, match="spec_url must be fetched first"):
        build(config)
