"""A counting upstream, a connector on it, three agents and their keys, on a real gateway."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Query
from fastapi.responses import JSONResponse

from broker.demo.upstreams.serve import BackgroundServer
from tests.cli.conftest import broker, run_cli  # noqa: F401 (fixtures)
from tests.conftest import RunningGateway, fresh_redis, redis_test_url, start_gateway
from tests.e2e.helpers import mcp_client

AGENTS = ("alice", "bob", "carol")


@dataclass
class Upstream:
    """Counts every request by path; `failing` paths answer 503."""

    calls: Counter[str] = field(default_factory=Counter)
    failing: set[str] = field(default_factory=set)
    delay: float = 0.0
    seen: list[dict[str, str]] = field(default_factory=list)

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.get("/item")
        async def item(id: str = Query(...), extra: str | None = None) -> Any:
            self.calls["/item"] += 1
            served = self.calls["/item"]
            if self.delay:
                await asyncio.sleep(self.delay)
            if "/item" in self.failing:
                return JSONResponse({"error": "temporarily unavailable"}, status_code=503)
            return {"length": len(id), "served": served}

        @app.get("/echo")
        async def echo(email: str) -> Any:
            self.calls["/echo"] += 1
            return {"contact": email, "served": self.calls["/echo"]}

        return app


def connector(url: str) -> dict[str, Any]:
    read_only = {"readOnlyHint": True, "idempotentHint": True}
    schema = {
        "type": "object",
        "properties": {"id": {"type": "string"}, "extra": {"type": "string"}},
        "required": ["id"],
    }
    return {
        "kind": "http",
        "name": "up",
        "base_url": url,
        "allow_private_network": True,
        "tools": [
            {
                "name": "item",
                "description": "Read an item.",
                "path": "/item",
                "query": ["id", "extra"],
                "input_schema": schema,
                "annotations": read_only,
            },
            {
                "name": "fresh",
                "description": "Read an item; not marked idempotent.",
                "path": "/item",
                "query": ["id"],
                "input_schema": schema,
            },
            {
                "name": "echo",
                "description": "Echo an e-mail address.",
                "path": "/echo",
                "query": ["email"],
                "input_schema": {
                    "type": "object",
                    "properties": {"email": {"type": "string"}},
                    "required": ["email"],
                },
                "annotations": read_only,
            },
        ],
    }


@dataclass
class CacheSetup:
    gateway: RunningGateway
    upstream: Upstream
    keys: dict[str, str]

    def apply(self, policies: list[dict[str, Any]]) -> None:
        response = self.gateway.admin.post("/admin/policies", json={"policies": policies})
        assert response.status_code == 200, response.text

    async def call(
        self, agent: str, tool: str, arguments: dict[str, Any], meta: dict[str, Any] | None = None
    ) -> Any:
        async with mcp_client(self.gateway.mcp_url, self.keys[agent]) as client:
            return await client.call_tool(tool, arguments, meta=meta)  # type: ignore[arg-type]

    def audit(self, tool: str, limit: int = 100) -> list[dict[str, Any]]:
        """Audit records of a tool, oldest first."""
        records = self.gateway.admin.get("/admin/audit", params={"tool": tool, "limit": limit}).json()
        return list(reversed(records))

    def metrics(self) -> str:
        return httpx.get(f"{self.gateway.url}/metrics").text


def everyone(**extra: Any) -> dict[str, Any]:
    return {"name": "all", "agents": list(AGENTS), "allow": ["up.*"], **extra}


def set_up(gateway: RunningGateway, upstream_url: str, upstream: Upstream) -> CacheSetup:
    document = {
        "connectors": [connector(upstream_url)],
        "agents": [{"name": name} for name in AGENTS],
        "policies": [everyone()],
    }
    response = gateway.admin.post("/admin/apply", json=document)
    assert response.status_code == 200, response.text
    keys = {name: gateway.admin.post(f"/admin/agents/{name}/keys", json={}).json()["key"] for name in AGENTS}
    return CacheSetup(gateway, upstream, keys)


@pytest.fixture
def upstream() -> Iterator[tuple[Upstream, str]]:
    counting = Upstream()
    with BackgroundServer(counting.app()) as server:
        yield counting, server.url


@pytest.fixture
def setup(gateway: RunningGateway, upstream: tuple[Upstream, str]) -> CacheSetup:
    counting, url = upstream
    return set_up(gateway, url, counting)


@pytest.fixture
def custom_gateway(tmp_path: Path) -> Iterator[Any]:
    """Start gateways with settings of the test's choosing; all are stopped at the end."""
    started: list[Any] = []

    def start(name: str = "broker", database_url: str | None = None, **settings: Any) -> RunningGateway:
        url = database_url or f"sqlite:///{tmp_path / f'{name}.db'}"
        server, running = start_gateway(url, **settings)
        started.append((server, running))
        return running

    yield start
    for server, running in reversed(started):
        running.admin.close()
        server.stop()


@pytest.fixture
def redis_url() -> Iterator[str]:
    """This worker's Redis database, emptied first; fails loudly when Redis is not there."""
    yield from fresh_redis(redis_test_url())


@pytest.fixture
def gateway_settings() -> dict[str, object]:
    """The suite's gateway without tool retries: these tests count upstream calls exactly."""
    return {"tool_retry_attempts": 1}
