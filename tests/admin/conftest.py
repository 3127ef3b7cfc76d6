"""Helpers for admin API tests: connector configs for the demo upstreams, YAML posts, raw MCP."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import RunningGateway

LIST_TOOLS = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "tools/list",
    "params": {
        "_meta": {
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientInfo": {"name": "admin-test", "version": "1"},
            "io.modelcontextprotocol/clientCapabilities": {},
        }
    },
}
MCP_HEADERS = {
    "Accept": "application/json, text/event-stream",
    "MCP-Protocol-Version": "2026-07-28",
    "Mcp-Method": "tools/list",
}


def weather_connector(url: str, name: str = "weather", **extra: Any) -> dict[str, Any]:
    """An http connector for the demo weather service with one tool."""
    return {
        "kind": "http",
        "name": name,
        "base_url": url,
        "allow_private_network": True,
        "tools": [
            {
                "name": "current",
                "description": "Current weather for a city.",
                "path": "/v1/current",
                "query": ["city"],
                "input_schema": {
                    "type": "object",
                    "properties": {"city": {"type": "string"}},
                    "required": ["city"],
                },
            }
        ],
        **extra,
    }


def post_yaml(client: httpx.Client, path: str, text: str, **params: str) -> httpx.Response:
    return client.post(
        path, content=text.encode(), headers={"Content-Type": "application/yaml"}, params=params
    )


def error_of(response: httpx.Response, status: int) -> dict[str, Any]:
    """The JSON error body of a response expected to fail with `status`."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    error: dict[str, Any] = response.json()["error"]
    assert set(error) <= {"code", "message", "problems", "request_id", "trace_id"}
    assert error["request_id"] == response.headers["x-request-id"]  # the same id as the logs and audit
    assert "Traceback" not in error["message"]
    return error


def problems_by_field(response: httpx.Response, status: int = 422) -> dict[str, dict[str, Any]]:
    return {p["field"]: p for p in error_of(response, status).get("problems", [])}


def list_tools_raw(gateway: RunningGateway, key: str) -> httpx.Response:
    """A raw MCP tools/list POST with an agent key (401 when the key does not authenticate)."""
    headers = {**MCP_HEADERS, "Authorization": f"Bearer {key}"}
    return httpx.post(gateway.mcp_url, json=LIST_TOOLS, headers=headers, timeout=10)


def tool_names(gateway: RunningGateway, key: str) -> list[str]:
    response = list_tools_raw(gateway, key)
    assert response.status_code == 200, response.text
    return [tool["name"] for tool in response.json()["result"]["tools"]]
