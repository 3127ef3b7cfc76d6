"""Cache benchmark: what a cache hit and a cache miss cost, in the stage and through the gateway.

Run it from the project root:

    .venv/bin/python bench/cache.py                            # in-process store, 20 ms upstream
    .venv/bin/python bench/cache.py --redis redis://127.0.0.1:6379/13
    .venv/bin/python bench/cache.py --requests 2000 --upstream-latency-ms 0

Two measurements:

1. The Cache stage alone, in this process: the real Planner (policy rules, masking
   fingerprint, keyed digest of the canonical arguments) and store, in front of a terminal
   that returns a ~1 KB weather result at once. "hit" is a repeated call (plan + lookup),
   "miss" a new key each time (plan + lookup + single-flight task + store). This is what the
   cache adds to a call, without HTTP, MCP or the upstream.
2. Through the gateway over MCP (raw JSON-RPC tools/call, as the tool-path bench sends), one
   request at a time: the demo weather upstream straight ("direct"), a tool the cache never
   keeps ("uncached"), a cached tool with new arguments every time ("miss": a nonce the
   upstream ignores) and with repeated arguments ("hit"). The gateway and the upstream run
   in processes of their own (bench/_serve.py); with --redis the gateway uses that Redis.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx

from bench._load import META, PROTOCOL, Phase, Send, direct_sender, make_client, run_phase
from bench._setup import Child, scratch_database

TOOL_SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string", "minLength": 1}, "nonce": {"type": "string"}},
    "required": ["city"],
    "additionalProperties": False,
}
CITIES = ("Paris", "London", "Tokyo", "Berlin", "Madrid", "Rome", "Sydney", "Toronto")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--requests", type=int, default=500, help="measured requests per gateway phase")
    parser.add_argument("--stage-calls", type=int, default=20000, help="calls per in-process stage phase")
    parser.add_argument("--upstream-latency-ms", type=float, default=20.0, help="weather app's added delay")
    parser.add_argument("--redis", metavar="URL", help="use the Redis store at URL (its keys are purged)")
    return parser.parse_args(argv)


# --- 1. the stage alone ---------------------------------------------------------------------------


def stage_fixture(redis_url: str | None) -> tuple[Any, Callable[[dict[str, Any]], Any], Any]:
    """The Cache stage with a real planner and store, a call factory, and the terminal."""
    from prometheus_client import CollectorRegistry

    from broker.cache import ResultCache
    from broker.catalog import AgentIdentity, Snapshot, catalog_tool
    from broker.pipeline.call import ToolCall
    from broker.settings import Settings
    from connectors.base import ToolOutput, ToolSpec
    from connectors.http.connector import HttpConnector, HttpConnectorConfig
    from policies import Policy, PolicySet

    settings = Settings(redis_url=redis_url, cache_backend="redis" if redis_url else "memory")
    cache = ResultCache.from_settings(settings, CollectorRegistry())
    assert cache is not None
    config = HttpConnectorConfig.model_validate(
        {
            "kind": "http",
            "name": "weather",
            "base_url": "http://127.0.0.1:9",
            "tools": [
                {"name": "current", "description": "x", "path": "/v1/current", "input_schema": TOOL_SCHEMA}
            ],
        }
    )
    connector = HttpConnector(config)
    tool = catalog_tool("weather", ToolSpec("current", "Current weather.", TOOL_SCHEMA))
    policy = Policy(
        name="bench", agents=["bench"], allow=["weather.*"], cache={"weather.*": {"ttl_seconds": 3600}}
    )
    snapshot = Snapshot(
        revision=1,
        policy_revision=1,
        policy_set=PolicySet([policy], version=1),
        keys={},
        tools={tool.name: tool},
        connectors={"weather": connector},
    )
    agent = AgentIdentity("00000000-0000-0000-0000-000000000001", "bench", None)
    body = {"city": "Paris", "current": {"temperature_2m": 18.5, "wind_speed_10m": 12.0}, "pad": "x" * 800}
    output = ToolOutput.from_json(body)

    def make_call(arguments: dict[str, Any]) -> ToolCall:
        return ToolCall(
            request_id="bench",
            agent=agent,
            tool_name=tool.name,
            arguments=arguments,
            snapshot=snapshot,
            tool=tool,
            connector="weather",
        )

    async def terminal(_: ToolCall) -> ToolOutput:
        return output

    return cache, make_call, terminal


async def stage_phase(calls: int, redis_url: str | None) -> dict[str, list[float]]:
    cache, make_call, terminal = stage_fixture(redis_url)
    await cache.purge()
    timings: dict[str, list[float]] = {"hit": [], "miss": []}
    try:
        for n in range(min(calls, 2000)):  # warm-up: the interpreter, memos, connections
            await cache.stage(make_call({"city": "Paris", "nonce": f"w{n}"}), terminal)
        await cache.purge()
        for kind in ("miss", "hit"):
            for n in range(calls):
                nonce = f"m{n}" if kind == "miss" else "same"
                call = make_call({"city": "Paris", "nonce": nonce})
                started = time.perf_counter()
                await cache.stage(call, terminal)
                timings[kind].append(time.perf_counter() - started)
                assert call.notes["cache"] == kind or (kind == "hit" and n == 0)
    finally:
        await cache.purge()
        await cache.close()
    timings["hit"] = timings["hit"][1:]  # the first "hit" call stored the entry
    return timings


# --- 2. through the gateway -----------------------------------------------------------------------


def seed(database_url: str, upstream_url: str) -> str:
    """Connector `weather` with `current` (cached) and `live` (never cached), agent `bench`."""
    from broker.services import agents, connectors, policies
    from broker.store.db import make_engine, make_sessionmaker
    from broker.store.migrate import upgrade
    from policies import Policy

    upgrade(database_url)
    engine = make_engine(database_url)
    sessions = make_sessionmaker(engine)
    tools = [
        {"name": name, "description": "Current weather.", "path": "/v1/current", "query": ["city"]}
        | {"input_schema": TOOL_SCHEMA}
        for name in ("current", "live")
    ]
    config = {
        "kind": "http",
        "name": "weather",
        "base_url": upstream_url,
        "allow_private_network": True,
        "tools": tools,
    }
    policy = Policy(
        name="bench",
        agents=["bench"],
        allow=["weather.*"],
        cache={"weather.current": {"ttl_seconds": 3600}, "weather.live": {"ttl_seconds": 0}},
    )
    try:
        with sessions.begin() as session:
            connectors.put_connector(session, "weather", "http", config, replace=False)
            agents.create_agent(session, "bench")
            key = agents.create_key(session, "bench").key
        with sessions.begin() as session:
            policies.apply(session, [policy])
    finally:
        engine.dispose()
    return key


def tool_sender(client: httpx.AsyncClient, key: str, tool: str, arguments: Callable[[int], Any]) -> Send:
    headers = {
        "Authorization": f"Bearer {key}",
        "Accept": "application/json, text/event-stream",
        "Content-Type": "application/json",
        "MCP-Protocol-Version": PROTOCOL,
        "Mcp-Method": "tools/call",
        "Mcp-Name": tool,
    }

    async def send(n: int) -> str | None:
        params = {"name": tool, "arguments": arguments(n), "_meta": META}
        body = json.dumps({"jsonrpc": "2.0", "id": n, "method": "tools/call", "params": params})
        response = await client.post("/mcp", content=body, headers=headers)
        result = response.json().get("result") if response.status_code == 200 else None
        if not isinstance(result, dict) or result.get("isError", False) is not False:
            return f"HTTP {response.status_code}: {response.text[:200]}"
        return None

    return send


async def gateway_phases(args: argparse.Namespace, upstream: Child, gateway: Child, key: str) -> list[Phase]:
    pids = {"gateway": gateway.pid, "upstream": upstream.pid}
    phases = []
    run_id = os.getpid()
    plans: list[tuple[str, str | None, Callable[[int], Any]]] = [
        ("direct", None, lambda n: None),
        ("uncached", "weather.live", lambda n: {"city": CITIES[n % len(CITIES)]}),
        ("miss", "weather.current", lambda n: {"city": CITIES[n % len(CITIES)], "nonce": f"{run_id}-{n}"}),
        ("hit", "weather.current", lambda n: {"city": CITIES[n % len(CITIES)]}),
    ]
    next_id = 1
    for target, tool, arguments in plans:
        async with make_client(upstream.url if tool is None else gateway.url) as client:
            send = direct_sender(client) if tool is None else tool_sender(client, key, tool, arguments)
            warm = 100 if target != "miss" else 20
            await run_phase(
                Phase(target, 1), [send], requests=warm, max_seconds=60, pids=pids, first_id=next_id
            )
            next_id += warm
            phase = await run_phase(
                Phase(target, 1), [send], requests=args.requests, max_seconds=120, pids=pids, first_id=next_id
            )
            next_id += args.requests
        phases.append(phase)
        print(f"  ... {target:<8} {phase.requests} requests, {phase.errors} errors", flush=True)
    return phases


# --- the report -----------------------------------------------------------------------------------


def quantiles_us(values: list[float]) -> tuple[float, float, float]:
    ordered = sorted(values)
    q = statistics.quantiles(ordered, n=100)
    return ordered[len(ordered) // 2] * 1e6, q[89] * 1e6, q[98] * 1e6


def report(args: argparse.Namespace, stage: dict[str, list[float]], phases: list[Phase]) -> bool:
    store = f"Redis ({args.redis})" if args.redis else "in process (cachetools)"
    print()
    print(f"Cache benchmark: store {store}; load average {os.getloadavg()[0]:.2f}")
    print()
    print(f"1. The Cache stage alone, {args.stage_calls} calls each, ~1 KB result (microseconds)")
    print(f"   {'':<6} {'p50':>8} {'p90':>8} {'p99':>8}")
    for kind in ("hit", "miss"):
        p50, p90, p99 = quantiles_us(stage[kind])
        print(f"   {kind:<6} {p50:>8.1f} {p90:>8.1f} {p99:>8.1f}")
    print()
    latency = args.upstream_latency_ms
    print(f"2. Through the gateway, MCP tools/call one at a time, upstream latency {latency:g} ms (ms)")
    print(
        f"   {'target':<9} {'requests':>8} {'errors':>6} {'p50':>8} {'p90':>8} {'p99':>8}  gateway CPU ms/req"
    )
    by_target = {p.target: p for p in phases}
    for p in phases:
        cpu = "-" if p.target == "direct" else f"{p.cpu_ms_per_request(p.server_cpu['gateway']):.2f}"
        print(
            f"   {p.target:<9} {p.requests:>8} {p.errors:>6} {p.percentile_ms(50):>8.2f} "
            f"{p.percentile_ms(90):>8.2f} {p.percentile_ms(99):>8.2f}  {cpu:>18}"
        )
    hit, miss, uncached = by_target["hit"], by_target["miss"], by_target["uncached"]
    print()
    saved = uncached.percentile_ms(50) - hit.percentile_ms(50)
    extra = miss.percentile_ms(50) - uncached.percentile_ms(50)
    print(f"   at p50 a hit saves {saved:.2f} ms and a miss costs {extra:+.2f} ms against an uncached call")
    hit_p50 = quantiles_us(stage["hit"])[0]
    ok = all(p.errors == 0 for p in phases) and hit_p50 < 1000
    print()
    verdict = "OK" if ok else "PROBLEM"
    print(f"{verdict}: the stage answers a hit in {hit_p50:.1f} us at p50 (budget: well under 1 ms)")
    return ok


def run(args: argparse.Namespace) -> int:
    print("1. the Cache stage in this process ...", flush=True)
    stage = asyncio.run(stage_phase(args.stage_calls, args.redis))
    with contextlib.ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="cache-bench-")))
        database_url = stack.enter_context(scratch_database(None, workdir))
        print("2. starting the weather upstream and the gateway ...", flush=True)
        upstream = Child("upstream", workdir, "--latency-ms", str(args.upstream_latency_ms))
        stack.callback(upstream.stop)
        key = seed(database_url, upstream.url)
        if args.redis:  # the gateway process reads its settings from the environment
            os.environ["BROKER_REDIS_URL"] = args.redis
        gateway = Child("gateway", workdir, "--database-url", database_url)
        stack.callback(gateway.stop)
        phases = asyncio.run(gateway_phases(args, upstream, gateway, key))
    return 0 if report(args, stage, phases) else 1


if __name__ == "__main__":
    sys.exit(run(parse_args(None)))
