"""Malformed and hostile input gets a clear 4xx or isError, never a 500 or a traceback."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest

from tests.admin.conftest import weather_connector
from tests.conftest import RunningGateway
from tests.e2e.helpers import mcp_client

DEEP = b"[" * 100_000 + b"]" * 100_000  # 200 KB, 100,000 levels


def _grant_weather(gateway: RunningGateway, weather_upstream: str) -> str:
    document = {
        "connectors": [weather_connector(weather_upstream)],
        "agents": [{"name": "bot"}],
        "policies": [{"name": "bot", "agents": ["bot"], "allow": ["weather.*"]}],
    }
    gateway.admin.post("/admin/apply", json=document).raise_for_status()
    key: str = gateway.admin.post("/admin/agents/bot/keys", json={"label": "t"}).json()["key"]
    return key


@pytest.mark.parametrize(
    ("path", "auth"),
    [
        ("/v1/chat/completions", "agent"),
        ("/v1/messages", "agent"),
        ("/admin/agents", "admin"),
        ("/admin/apply", "admin"),
        ("/admin/connectors", "admin"),
        ("/mcp", "agent"),
    ],
)
def test_deeply_nested_json_is_a_400_everywhere(
    gateway: RunningGateway, path: str, auth: str, caplog: pytest.LogCaptureFixture
) -> None:
    key = gateway.create_agent("deep") if auth == "agent" else gateway.admin_token
    headers = {
        "Authorization": f"Bearer {key}",
        "Content-Type": "application/json",
        "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": "2026-07-28",
        "Mcp-Method": "tools/call",
        "anthropic-version": "2023-06-01",
    }
    with caplog.at_level(logging.INFO):
        response = httpx.post(gateway.url + path, content=DEEP, headers=headers, timeout=30)
    assert response.status_code == 400, response.text
    text = response.text.lower()
    assert "nest" in text or "parse error" in text or "json" in text, response.text
    assert "RecursionError" not in caplog.text and "Traceback" not in caplog.text


def test_a_json_body_that_is_deep_but_sane_still_works(gateway: RunningGateway) -> None:
    nested: Any = "leaf"
    for _ in range(30):
        nested = {"n": nested}
    response = gateway.admin.post("/admin/agents", json={"name": "sane", "description": str(nested)[:100]})
    assert response.status_code == 201, response.text


async def test_an_argument_that_makes_the_request_impossible_is_an_iserror_naming_the_upstream(
    gateway: RunningGateway, weather_upstream: str, caplog: pytest.LogCaptureFixture
) -> None:
    key = _grant_weather(gateway, weather_upstream)
    with caplog.at_level(logging.INFO):
        async with mcp_client(gateway.mcp_url, key) as client:
            for _ in range(3):
                result = await client.call_tool("weather.current", {"city": "x" * 70_000})
                assert result.is_error
                text = result.content[0].text  # type: ignore[union-attr]
                assert "upstream 'weather'" in text
                assert "x" * 100 not in text
            ok = await client.call_tool("weather.current", {"city": "Paris"})
            assert not ok.is_error
    assert "Traceback" not in caplog.text
    assert "x" * 100 not in caplog.text


def _headers(key: str, method: str = "tools/call") -> dict[str, str]:
    return {
        "Authorization": f"Bearer {key}",
        "Content-Type": "application/json",
        "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": "2026-07-28",
        "Mcp-Method": method,
        "Mcp-Name": "nowhere.nothing",
        "anthropic-version": "2023-06-01",
    }


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/messages", "/admin/agents"])
def test_an_http_error_body_names_the_request(gateway: RunningGateway, path: str) -> None:
    key = gateway.admin_token if path.startswith("/admin") else gateway.create_agent("named")
    response = httpx.post(gateway.url + path, content=b'{"model": ', headers=_headers(key), timeout=30)
    assert response.status_code in (400, 422), response.text
    body = response.json()
    request_id = body["error"]["request_id"] if path.startswith("/admin") else body["request_id"]
    assert request_id == response.headers["x-request-id"]


def test_a_json_rpc_error_names_the_request_in_its_data(gateway: RunningGateway) -> None:
    key = gateway.create_agent("named")
    call = {
        "jsonrpc": "2.0",
        "id": 7,
        "method": "tools/call",
        "params": {
            "name": "nowhere.nothing",
            "arguments": {},
            "_meta": {
                "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                "io.modelcontextprotocol/clientInfo": {"name": "t", "version": "1"},
                "io.modelcontextprotocol/clientCapabilities": {},
            },
        },
    }
    response = httpx.post(gateway.mcp_url, json=call, headers=_headers(key), timeout=30)
    error = response.json()["error"]
    assert error["code"] == -32602, error
    assert error["data"]["request_id"] == response.headers["x-request-id"]
