"""MCP connector benchmark: CPU per `McpConnector.call` in the calling process, at several concurrencies.

    .venv/bin/python bench/mcp_connector.py                     # levels 1,16,64, 3000 calls each
    .venv/bin/python bench/mcp_connector.py --levels 1 --cprofile /tmp/mcp.pstats

The federated path without the gateway around it: the bench's MCP server (bench/_upstreams.py,
one uvicorn worker on 127.0.0.1, its own process) is registered as the tool-path benchmark's `fed`
connector is, and this process calls its `forecast` tool (~2 KB JSON result) with a new `nonce`
each time, `concurrency` calls at a time, for the caller the MCP fast path has (a 2026-07-28
client that wants no progress or log messages: `STATELESS`). CPU ms/call is this process's CPU
time (user + system) during the phase divided by the calls: what the connector, its session and
client cost the gateway per call, independent of queueing and of the stages around it.
`--cprofile PATH` profiles the measured phases by CPU time (not wall time: a busy machine's
pre-emptions are not charged to whatever ran when they happened).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._load import CITIES, loop_factory
from bench._setup import Child
from broker.mcp.channel import STATELESS
from connectors.base import CallContext
from connectors.mcp import McpConnector, McpConnectorConfig, prepare_mcp

CONTEXT = CallContext(channel=STATELESS)


async def phase(connector: McpConnector, concurrency: int, calls: int, run: int) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds, errors) for `calls` calls made `concurrency` at a time."""
    counter = iter(range(calls))
    errors = 0

    async def worker() -> None:
        nonlocal errors
        for n in counter:
            arguments = {"city": CITIES[n % len(CITIES)], "nonce": f"{run}-{n}"}
            output = await connector.call("forecast", arguments, CONTEXT)
            if output.is_error or not output.content or output.content[0].get("type") != "text":
                errors += 1

    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - wall, time.process_time() - cpu, errors


async def measure(url: str, levels: list[int], calls: int, profile: cProfile.Profile | None) -> int:
    raw = {"kind": "mcp", "name": "fed", "transport": "http", "url": f"{url}/mcp"}
    raw |= {"allow_private_network": True, "max_response_bytes": 16 * 1024 * 1024}  # as tool_path's `fed`
    config = await prepare_mcp(McpConnectorConfig.model_validate(raw))
    failed = 0
    async with McpConnector(config) as connector:
        print(f"{'conc':>4} {'calls':>6} {'errors':>6} {'calls/s':>8} {'CPU ms/call':>11}")
        for run, concurrency in enumerate(levels):
            await phase(connector, concurrency, max(200, 2 * concurrency), -run - 1)  # warm-up
            if profile is not None:
                profile.enable()
            wall, cpu, errors = await phase(connector, concurrency, calls, run)
            if profile is not None:
                profile.disable()
            failed += errors
            print(f"{concurrency:>4} {calls:>6} {errors:>6} {calls / wall:>8.0f} {cpu / calls * 1000:>11.3f}")
    return failed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--levels", default="1,16,64")
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--cprofile", metavar="PATH", help="profile the measured phases (CPU time) into PATH")
    args = parser.parse_args()
    levels = [int(level) for level in args.levels.split(",") if level.strip()]
    profile = cProfile.Profile(time.process_time) if args.cprofile else None
    with tempfile.TemporaryDirectory(prefix="mcp-connector-bench-") as workdir:
        upstream = Child("mcp", Path(workdir))
        try:
            print(f"MCP upstream {upstream.url} (pid {upstream.pid}); load average {os.getloadavg()[0]:.2f}")
            with asyncio.Runner(loop_factory=loop_factory()) as runner:
                failed = runner.run(measure(upstream.url, levels, args.calls, profile))
        finally:
            upstream.stop()
    if profile is not None:
        profile.dump_stats(args.cprofile)
        pstats.Stats(args.cprofile).sort_stats("tottime").print_stats(25)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
