"""Presets against the local servers that answer with the real APIs' shapes, behind the real
gateway (with a secret store key) on loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from mcp.client.client import Client
from pydantic import SecretStr

from broker.demo.upstreams import BackgroundServer, create_crm_app, create_weather_app
from broker.secrets.keys import generate_key
from tests.conftest import RunningGateway, start_gateway

HUBSPOT_TOKEN = "pat-na1-preset-test-0123456789abcdef"
PINNED_NOW = datetime(2025, 1, 15, 14, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def weather_url() -> Iterator[str]:
    """Open-Meteo's forecast and geocoding API (both hosts' paths on one local server)."""
    with BackgroundServer(create_weather_app(clock=lambda: PINNED_NOW)) as server:
        yield server.url


@pytest.fixture(scope="module")
def hubspot_url() -> Iterator[str]:
    """HubSpot's CRM v3 API, wanting the private-app token HUBSPOT_TOKEN."""
    with BackgroundServer(create_crm_app(api_token=HUBSPOT_TOKEN)) as server:
        yield server.url


@pytest.fixture
def keyed_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGateway]:
    """The real gateway with a secret store key."""
    database = tmp_path_factory.mktemp("gateway") / "broker.db"
    server, running = start_gateway(f"sqlite:///{database}", secret_keys=SecretStr(generate_key()))
    try:
        yield running
    finally:
        running.admin.close()
        server.stop()


def grant(gateway: RunningGateway, connectors: list[dict[str, Any]], allow: list[str]) -> str:
    """Apply the connectors with an agent allowed `allow`; returns the agent's key."""
    document = {
        "connectors": connectors,
        "agents": [{"name": "assistant"}],
        "policies": [{"name": "presets", "agents": ["assistant"], "allow": allow}],
    }
    response = gateway.admin.post("/admin/apply", json=document)
    assert response.status_code == 200, response.text
    issued = gateway.admin.post("/admin/agents/assistant/keys", json={"label": "presets"})
    assert issued.status_code in (200, 201), issued.text
    key: str = issued.json()["key"]
    return key


async def call(client: Client, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """A successful call's structured result (which equals its text content)."""
    result = await client.call_tool(tool, arguments)
    text = result.content[0].text  # type: ignore[union-attr]
    assert result.is_error is False, text
    assert result.structured_content is not None
    assert json.loads(text) == result.structured_content
    return result.structured_content
