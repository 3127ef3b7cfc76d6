"""2025-11-25 sessions across instances: what adopting a session costs.

    .venv/bin/python bench/sessions.py [--requests 300] [--redis-url redis://127.0.0.1:6379/13]

Starts two gateway instances (in this process, on 127.0.0.1) on one scratch PostgreSQL database
and one Redis, opens one 2025-11-25 session with the mcp SDK client, and times sequential
tools/list requests of that session: sticky (always the instance that opened it) and alternating
(each request on the other instance: the first request on the second instance adopts the session
from Redis, later ones find it held). Then it opens and closes sessions alternating from the
first request, so every session is adopted once: the time to initialize, list once on each
instance and DELETE. Figures are per-request client latencies in ms; the servers share the
process and the machine with the client, so compare the rows with each other, not with other
benchmarks. Alternating also wakes two server threads in turn, which costs up to a GIL switch
interval (5 ms) per request here that separate processes would not pay.

On the 2-core development machine (load average ~9 from other work): sticky p50 9.3 ms,
alternating p50 14.5 ms, a whole adopted session (open, one list on each instance, DELETE)
p50 78 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
import httpx2
from mcp.client.client import Client
from mcp.client.streamable_http import streamable_http_client
from pydantic import SecretStr

from bench._setup import scratch_database
from broker.app import create_app
from broker.demo.upstreams.serve import BackgroundServer
from broker.secrets.keys import generate_key
from broker.serving import server_options
from broker.settings import Settings

ADMIN = "bench-admin-token-0123456789"


class Route(httpx2.AsyncBaseTransport):
    """Sends each request to `pick()`'s instance."""

    def __init__(self, urls: list[str]) -> None:
        self.inner = httpx2.AsyncHTTPTransport()
        self.targets = [httpx2.URL(url) for url in urls]
        self.alternate = False
        self.count = 0

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        target = self.targets[self.count % len(self.targets)] if self.alternate else self.targets[0]
        self.count += 1
        request.url = request.url.copy_with(host=target.host, port=target.port)
        return await self.inner.handle_async_request(request)


def figures(name: str, samples: list[float]) -> None:
    ordered = sorted(samples)
    p50 = ordered[len(ordered) // 2]
    p90 = ordered[int(len(ordered) * 0.9)]
    mean = statistics.fmean(samples)
    print(f"{name:<44} n={len(samples):<5} p50 {p50:6.2f}  p90 {p90:6.2f}  mean {mean:6.2f}")


async def measure(urls: list[str], key: str, requests: int) -> None:
    route = Route(urls)
    headers = {"Authorization": f"Bearer {key}"}
    async with (
        httpx2.AsyncClient(transport=route, headers=headers, timeout=30) as http,
        Client(streamable_http_client(urls[0], http_client=http), mode="legacy", cache=None) as client,
    ):
        for alternate in (False, True):
            route.alternate = alternate
            samples = []
            for _ in range(requests):
                started = time.perf_counter()
                await client.list_tools()
                samples.append((time.perf_counter() - started) * 1000)
            figures("tools/list, " + ("alternating" if alternate else "sticky"), samples[1:])
    route.alternate = True
    whole = []
    for _ in range(max(requests // 10, 10)):
        route.count = 0
        started = time.perf_counter()
        async with (
            httpx2.AsyncClient(transport=route, headers=headers, timeout=30) as http,
            Client(streamable_http_client(urls[0], http_client=http), mode="legacy", cache=None) as client,
        ):
            await client.list_tools()
            await client.list_tools()
        whole.append((time.perf_counter() - started) * 1000)
    figures("session: open, list on each instance, DELETE", whole)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/13")
    parser.add_argument("--postgres-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    with scratch_database(args.postgres_url, Path(".")) as database_url:
        common = {
            "database_url": database_url,
            "admin_token": SecretStr(ADMIN),
            "redis_url": args.redis_url,
            "redis_channel": f"broker:bench:{uuid.uuid4().hex}",
            "secret_keys": SecretStr(generate_key()),
        }
        servers = []
        try:
            for _ in range(2):
                settings = Settings(**common)  # type: ignore[arg-type]
                options = server_options(settings)
                server = BackgroundServer(create_app(settings), startup_timeout=30, **options)
                servers.append(server.start())
            admin = httpx.Client(base_url=servers[0].url, headers={"Authorization": f"Bearer {ADMIN}"})
            admin.post("/admin/agents", json={"name": "bench"}).raise_for_status()
            key = admin.post("/admin/agents/bench/keys", json={"label": "bench"}).json()["key"]
            time.sleep(1.5)  # the other instance hears of the agent through Redis
            asyncio.run(measure([f"{server.url}/mcp" for server in servers], key, args.requests))
        finally:
            for server in servers:
                server.stop()


if __name__ == "__main__":
    main()
