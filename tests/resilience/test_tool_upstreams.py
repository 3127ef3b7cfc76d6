"""Tools behind a failing upstream: idempotent ones retried (honouring Retry-After), others
never; a connector's circuit breaker opens, answers at once, probes and closes."""

from __future__ import annotations

import time
from collections.abc import Iterator
from email.utils import formatdate
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from broker.demo.upstreams.serve import BackgroundServer
from tests.conftest import RunningGateway, start_gateway
from tests.e2e.helpers import mcp_client


class Flaky:
    """An upstream answering from a script of failures: (status, Retry-After or None)."""

    def __init__(self) -> None:
        self.script: list[tuple[int, str | None]] = []
        self.always: int | None = None
        self.hits = 0

    def app(self) -> Starlette:
        async def answer(_: Request) -> Response:
            self.hits += 1
            if self.always is not None:
                return JSONResponse({"error": "down"}, status_code=self.always)
            if self.script:
                status, retry_after = self.script.pop(0)
                headers = {"retry-after": retry_after} if retry_after is not None else {}
                return JSONResponse({"error": "busy"}, status_code=status, headers=headers)
            return JSONResponse({"ok": True})

        return Starlette(routes=[Route("/thing", answer, methods=["GET", "POST"])])


def connector(url: str) -> dict[str, Any]:
    schema = {"type": "object", "properties": {}}
    return {
        "kind": "http",
        "name": "flaky",
        "base_url": url,
        "allow_private_network": True,
        "tools": [
            {"name": "read", "description": "Read the thing.", "path": "/thing", "input_schema": schema},
            {"name": "write", "description": "Change the thing.", "method": "POST", "path": "/thing",
             "input_schema": schema},
        ],
    }  # fmt: skip


@pytest.fixture
def flaky() -> Iterator[tuple[Flaky, str]]:
    upstream = Flaky()
    with BackgroundServer(upstream.app()) as server:
        yield upstream, server.url


def setup(tmp_path: Path, url: str, **settings: Any) -> tuple[BackgroundServer, RunningGateway, str]:
    server, gateway = start_gateway(f"sqlite:///{tmp_path / 'b.db'}", **settings)
    gateway.admin.post("/admin/connectors", json=connector(url)).raise_for_status()
    key = gateway.create_agent("bot")
    policy = {"name": "bot", "agents": ["bot"], "allow": ["flaky.*"]}
    gateway.admin.post("/admin/policies", json={"policies": [policy]}).raise_for_status()
    return server, gateway, key


async def call(gateway: RunningGateway, key: str, tool: str) -> tuple[bool, str]:
    async with mcp_client(gateway.mcp_url, key) as client:
        result = await client.call_tool(tool, {})
    text = " ".join(getattr(block, "text", "") for block in result.content)
    return bool(result.is_error), text


async def test_idempotent_tools_are_retried_honouring_retry_after(
    tmp_path: Path, flaky: tuple[Flaky, str]
) -> None:
    upstream, url = flaky
    server, gateway, key = setup(tmp_path, url)
    try:
        in_a_second = formatdate(time.time() + 1, usegmt=True)
        upstream.script = [(503, "0"), (429, in_a_second)]  # seconds, then an HTTP-date
        assert await call(gateway, key, "flaky.read") == (False, '{"ok":true}')
        assert upstream.hits == 3

        upstream.hits, upstream.script = 0, [(503, None)]
        failed, text = await call(gateway, key, "flaky.write")  # may have changed something: once only
        assert failed and "503" in text and upstream.hits == 1

        upstream.hits, upstream.script = 0, [(503, "3600")]  # not worth holding the call for an hour
        failed, text = await call(gateway, key, "flaky.read")
        assert failed and upstream.hits == 1
    finally:
        gateway.admin.close()
        server.stop()


async def test_a_connector_breaker_opens_answers_at_once_then_probes_and_closes(
    tmp_path: Path, flaky: tuple[Flaky, str]
) -> None:
    upstream, url = flaky
    server, gateway, key = setup(
        tmp_path, url, breaker_failures=3, breaker_open_seconds=1.0, tool_retry_attempts=1
    )
    try:
        upstream.always = 502
        for _ in range(3):
            failed, text = await call(gateway, key, "flaky.write")
            assert failed and "502" in text
        assert upstream.hits == 3
        failed, text = await call(gateway, key, "flaky.read")  # the breaker is per connector
        assert failed and "connector 'flaky' is unavailable" in text and "circuit breaker is open" in text
        assert upstream.hits == 3  # answered without calling it
        assert "broker_circuit_breaker_state{upstream=\"connector 'flaky'\"} 1.0" in metrics(gateway)

        upstream.always = None  # it recovers; after the open period one probe goes through
        deadline = time.monotonic() + 10
        while (await call(gateway, key, "flaky.read"))[0]:
            assert time.monotonic() < deadline, "the breaker never let a probe through"
            time.sleep(0.2)
        assert upstream.hits == 4  # the probe was the only call that reached it
        assert "broker_circuit_breaker_state{upstream=\"connector 'flaky'\"} 0.0" in metrics(gateway)
        audit = gateway.admin.get("/admin/audit").json()
        assert "upstream_unavailable" in {row["outcome"] for row in audit}
    finally:
        gateway.admin.close()
        server.stop()


def metrics(gateway: RunningGateway) -> str:
    return httpx.get(f"{gateway.url}/metrics").text
