"""Catalog benchmark: tools/list, tools/call and a policy change with 10, 1,000 and 10,000 tools.

Run it from the project root:

    .venv/bin/python bench/catalog.py                          # sizes 10,1000,10000; 1,000 agents
    .venv/bin/python bench/catalog.py --sizes 10000 --requests 200

What it does, per catalog size: seeds a fresh SQLite database with the demo weather app as an
`http` connector offering N tools (each a GET of /v1/current), 1,000 agents in team `bench`
with a key each, and a policy granting the team `weather.*`; starts the weather app and the
gateway (bench/_serve.py, one uvicorn worker each, the gateway with an admin token). Then:

  - tools/list at c=1 and c=16, the agents taking turns (each agent's view is built once per
    snapshot, then reused): `page` is the first page alone (200 tools: what a paginating
    client reads first; the goal is <= 5 ms p50 at c=1 and >= 200/s at c=16), `list` the full
    listing at c=1 (every page followed: 50 requests at 10,000 tools);
  - tools/call `weather.t00000` at c=1 and c=16: p50 and gateway CPU per call, which should
    not grow with the catalog;
  - a policy change through the admin API (deny one tool to the team), timed from the POST
    until an agent's tools/list no longer shows it, then the listing p50 just after the change
    (the first listings after a change rebuild the agent views).

Numbers are noisy on a shared machine: the load average at start is printed with them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx

from bench._load import META, PROTOCOL, Phase, Send, gateway_sender, make_client, run_phase
from bench._setup import Child

AGENTS = 1000
ADMIN_TOKEN = "bench-admin-" + secrets.token_hex(8)
POLICY = {"name": "bench", "teams": ["bench"], "allow": ["weather.*"]}
SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string", "minLength": 1, "maxLength": 100}},
    "required": ["city"],
    "additionalProperties": False,
}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sizes", default="10,1000,10000", help="comma-separated catalog sizes")
    parser.add_argument("--requests", type=int, default=400, help="measured requests per phase")
    parser.add_argument("--max-seconds", type=float, default=60.0, help="time bound of each phase")
    args = parser.parse_args(argv)
    args.sizes = [int(size) for size in args.sizes.split(",") if size.strip()]
    return args


def seed(database_url: str, upstream_url: str, tools: int) -> list[str]:
    """Migrate; the weather connector with `tools` tools, AGENTS agents in team bench; their keys."""
    from broker.services import agents, connectors, policies
    from broker.store.db import make_engine, make_sessionmaker
    from broker.store.migrate import upgrade
    from policies import Policy

    upgrade(database_url)
    engine = make_engine(database_url)
    sessions = make_sessionmaker(engine)
    specs = [
        {
            "name": f"t{n:05d}",
            "description": f"Current weather in a city (variant {n}).",
            "method": "GET",
            "path": "/v1/current",
            "query": ["city"],
            "input_schema": SCHEMA,
        }
        for n in range(tools)
    ]
    config = {"kind": "http", "name": "weather", "base_url": upstream_url, "allow_private_network": True}
    keys = []
    try:
        with sessions.begin() as session:
            connectors.put_connector(session, "weather", "http", config | {"tools": specs}, replace=False)
            for n in range(AGENTS):
                agents.create_agent(session, f"agent-{n:04d}", team="bench")
                keys.append(agents.create_key(session, f"agent-{n:04d}").key)
        with sessions.begin() as session:
            policies.apply(session, [Policy.model_validate(POLICY)])
    finally:
        engine.dispose()
    return keys


def list_sender(client: httpx.AsyncClient, keys: list[str], pages: list[float], *, every_page: bool) -> Send:
    """tools/list, the agents taking turns: the first page only (what a paginating client reads
    first), or with `every_page` the full listing; first-page latencies go to `pages`."""

    async def send(n: int) -> str | None:
        headers = LIST_HEADERS | {"Authorization": f"Bearer {keys[n % len(keys)]}"}
        cursor: str | None = None
        for page in range(10_000):
            started = time.perf_counter()
            response = await client.post("/mcp", content=list_body(n, cursor), headers=headers)
            if page == 0:
                pages.append(time.perf_counter() - started)
            if response.status_code != 200:
                return f"HTTP {response.status_code}: {response.text[:200]}"
            result = response.json().get("result")
            if not isinstance(result, dict) or not isinstance(result.get("tools"), list):
                return f"not a tools/list result: {response.text[:200]}"
            cursor = result.get("nextCursor")
            if not cursor or not every_page:
                return None
        return "more than 10,000 pages"

    return send


LIST_HEADERS = {
    "Accept": "application/json, text/event-stream",
    "Content-Type": "application/json",
    "MCP-Protocol-Version": PROTOCOL,
    "Mcp-Method": "tools/list",
}


def list_body(n: int, cursor: str | None) -> str:
    params: dict[str, Any] = {"_meta": META} | ({"cursor": cursor} if cursor else {})
    return json.dumps({"jsonrpc": "2.0", "id": n, "method": "tools/list", "params": params})


async def listed(client: httpx.AsyncClient, key: str, *, every_page: bool = True) -> set[str]:
    """The names in the agent's listing (its first page only, unless `every_page`)."""
    names: set[str] = set()
    headers = LIST_HEADERS | {"Authorization": f"Bearer {key}"}
    cursor: str | None = None
    while True:
        response = await client.post("/mcp", content=list_body(1, cursor), headers=headers)
        result = response.json()["result"]
        names.update(tool["name"] for tool in result["tools"])
        cursor = result.get("nextCursor")
        if not cursor or not every_page:
            return names


PHASES = [("page", 1), ("call", 1), ("list", 1), ("page", 16), ("call", 16)]
"""page: the first page of tools/list; list: every page (the whole catalog); call: tools/call."""


async def phases_for(
    args: argparse.Namespace, gateway: Child, upstream: Child, keys: list[str]
) -> dict[str, Any]:
    pids = {"gateway": gateway.pid, "upstream": upstream.pid}
    out: dict[str, Any] = {}
    next_id = 1
    for kind, concurrency in PHASES:
        async with contextlib.AsyncExitStack() as stack:
            pool = [await stack.enter_async_context(make_client(gateway.url)) for _ in range(concurrency)]
            pages: list[float] = []
            if kind == "call":
                senders = [
                    gateway_sender(c, keys[i % len(keys)], "weather.t00000") for i, c in enumerate(pool)
                ]
            else:
                senders = [list_sender(c, keys, pages, every_page=kind == "list") for c in pool]
            requests = max(args.requests // 10, 10) if kind == "list" else args.requests
            warm = 2 * concurrency
            await run_phase(
                Phase(kind, concurrency), senders, requests=warm, max_seconds=args.max_seconds,
                pids=pids, first_id=next_id,
            )  # fmt: skip
            next_id += warm
            pages.clear()
            phase = await run_phase(
                Phase(kind, concurrency), senders, requests=requests, max_seconds=args.max_seconds,
                pids=pids, first_id=next_id,
            )  # fmt: skip
            next_id += requests
            out[kind, concurrency] = (phase, sorted(pages))
            print(f"  ... {kind} c={concurrency}: {phase.requests} in {phase.seconds:.1f}s", flush=True)
    out["change"] = await policy_change(gateway, keys)
    return out


async def policy_change(gateway: Child, keys: list[str]) -> tuple[float, float, float]:
    """Deny weather.t00000 to the team: seconds until an agent's listing lacks it, seconds the POST
    took, and the p50 of agents' first listings after it."""
    changed = POLICY | {"deny": ["weather.t00000"]}
    async with httpx.AsyncClient(base_url=gateway.url, timeout=60, trust_env=False) as client:
        assert "weather.t00000" in await listed(client, keys[1])
        started = time.perf_counter()
        response = await client.post(
            "/admin/policies",
            json={"policies": [changed]},
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        )
        response.raise_for_status()
        posted = time.perf_counter() - started
        # weather.t00000 is the first tool: the first page shows whether the change is live
        while "weather.t00000" in await listed(client, keys[1], every_page=False):  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        live = time.perf_counter() - started
        after = []
        for key in keys[2:22]:  # first listings of agents after the change: each builds its view
            t = time.perf_counter()
            await listed(client, key)
            after.append(time.perf_counter() - t)
    return live, posted, sorted(after)[len(after) // 2]


def report(size: int, results: dict[str, Any]) -> None:
    print(f"\n{size} tools, {AGENTS} agents (load average {os.getloadavg()[0]:.2f})")
    for (kind, concurrency), (phase, pages) in [(k, results[k]) for k in PHASES]:
        cpu = phase.cpu_ms_per_request(phase.server_cpu["gateway"])
        first = f"; first page p50 {pages[len(pages) // 2] * 1000:.2f} ms" if kind == "list" and pages else ""
        name = {"page": "tools/list, 1st page", "list": "tools/list, all pages", "call": "tools/call"}[kind]
        print(
            f"  {name:<21} c={concurrency:<3} p50 {phase.percentile_ms(50):8.2f} ms  "
            f"p99 {phase.percentile_ms(99):8.2f} ms  {phase.throughput:7.0f}/s  gateway CPU "
            f"{cpu:7.2f} ms/req  errors {phase.errors}{first}"
            + (f" ({phase.first_error})" if phase.first_error else "")
        )
    live, posted, after = results["change"]
    print(
        f"  policy change: live in {live * 1000:.0f} ms (POST answered in {posted * 1000:.0f} ms); "
        f"an agent's first full listing after it: {after * 1000:.1f} ms p50"
    )


def run(args: argparse.Namespace) -> int:
    print(f"Catalog benchmark, {os.cpu_count()} cores shared; load average {os.getloadavg()[0]:.2f}")
    os.environ["BROKER_ADMIN_TOKEN"] = ADMIN_TOKEN
    errors = 0
    for size in args.sizes:
        with contextlib.ExitStack() as stack:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="catalog-bench-")))
            database_url = f"sqlite:///{workdir / 'bench.db'}"
            upstream = Child("upstream", workdir)
            stack.callback(upstream.stop)
            print(f"seeding {size} tools and {AGENTS} agents ...", flush=True)
            keys = seed(database_url, upstream.url, size)
            started = time.perf_counter()
            gateway = Child("gateway", workdir, "--database-url", database_url, start_timeout=600)
            stack.callback(gateway.stop)
            print(f"  gateway up in {time.perf_counter() - started:.1f} s", flush=True)
            results = asyncio.run(phases_for(args, gateway, upstream, keys))
            errors += sum(value[0].errors for key, value in results.items() if key != "change")
        report(size, results)
    print("\nOK: no errors" if errors == 0 else f"\nPROBLEM: {errors} errors")
    return 0 if errors == 0 else 1


if __name__ == "__main__":
    sys.exit(run(parse_args(None)))
