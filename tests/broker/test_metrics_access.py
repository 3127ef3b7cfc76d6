"""/metrics names agents and tools: it can ask for a bearer token and move to a port of its own."""

from __future__ import annotations

from pathlib import Path

import httpx
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import SecretStr

from tests.conftest import free_port, start_gateway

TOKEN = "metrics-scrape-token-7f3a"


def test_metrics_ask_for_the_token_when_one_is_set(tmp_path: Path) -> None:
    server, gateway = start_gateway(f"sqlite:///{tmp_path / 'b.db'}", metrics_token=SecretStr(TOKEN))
    try:
        url = f"{gateway.url}/metrics"
        anonymous = httpx.get(url)
        assert anonymous.status_code == 401 and anonymous.headers["www-authenticate"].startswith("Bearer")
        assert "broker_" not in anonymous.text
        assert httpx.get(url, headers={"Authorization": f"Bearer {TOKEN}x"}).status_code == 401
        scraped = httpx.get(url, headers={"Authorization": f"Bearer {TOKEN}"})
        assert scraped.status_code == 200
        assert scraped.headers["content-type"] == CONTENT_TYPE_LATEST
        assert "# TYPE broker_tool_calls_total counter" in scraped.text
    finally:
        gateway.admin.close()
        server.stop()


def test_metrics_on_a_listen_address_of_their_own(tmp_path: Path) -> None:
    port = free_port()
    server, gateway = start_gateway(f"sqlite:///{tmp_path / 'b.db'}", metrics_port=port)
    try:
        assert httpx.get(f"{gateway.url}/metrics").status_code == 404
        scraped = httpx.get(f"http://127.0.0.1:{port}/metrics")
        assert scraped.status_code == 200 and "# TYPE broker_tool_calls_total counter" in scraped.text
        assert httpx.get(f"http://127.0.0.1:{port}/admin/agents").status_code == 404  # nothing else there
    finally:
        gateway.admin.close()
        server.stop()
    try:
        httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2)
        raise AssertionError("the metrics server outlived the gateway")
    except httpx.ConnectError:
        pass
