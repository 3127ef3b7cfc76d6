"""HTTP connector benchmark: CPU per `HttpConnector.call` in the calling process, at several concurrencies.

    .venv/bin/python bench/http_connector.py                    # levels 1,16,64, 3000 calls each
    .venv/bin/python bench/http_connector.py --levels 64 --calls 10000

The connector alone, without the gateway around it: the demo weather upstream runs in its own
process (bench/_serve.py, one uvicorn worker on 127.0.0.1) and this process calls its
`current` tool (GET /v1/current?city=..., a ~1 KB JSON answer) as the tool-path benchmark's
`weather.current` does, `concurrency` calls at a time. CPU ms/call is this process's CPU time
(user + system) during the phase divided by the calls: what the connector costs the gateway
per call, independent of queueing. `--guarded` puts the outbound guard (netguard) in front, as
for a public upstream, resolving 127.0.0.1 through a resolver that reports a public address.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._load import CITIES, loop_factory
from bench._setup import Child
from connectors.http.connector import HttpConnector, HttpConnectorConfig

TOOL = {
    "name": "current",
    "description": "Current weather in a city",
    "method": "GET",
    "path": "/v1/current",
    "query": ["city"],
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


async def phase(connector: HttpConnector, concurrency: int, calls: int) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds, errors) for `calls` calls made `concurrency` at a time."""
    counter = iter(range(calls))
    errors = 0

    async def worker() -> None:
        nonlocal errors
        for n in counter:
            output = await connector.call("current", {"city": CITIES[n % len(CITIES)]})
            if not isinstance(output.structured, dict) or "current" not in output.structured:
                errors += 1

    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - wall, time.process_time() - cpu, errors


async def measure(url: str, levels: list[int], calls: int, guarded: bool) -> int:
    raw = {"kind": "http", "name": "weather", "base_url": url, "tools": [TOOL]}
    config = HttpConnectorConfig.model_validate(raw | {"allow_private_network": not guarded})
    failed = 0
    async with HttpConnector(config) as connector:
        if guarded:
            public_looking(connector)
        print(f"{'conc':>4} {'calls':>6} {'errors':>6} {'calls/s':>8} {'CPU ms/call':>11}")
        for concurrency in levels:
            await phase(connector, concurrency, max(200, 2 * concurrency))  # warm-up: connections open
            wall, cpu, errors = await phase(connector, concurrency, calls)
            failed += errors
            print(f"{concurrency:>4} {calls:>6} {errors:>6} {calls / wall:>8.0f} {cpu / calls * 1000:>11.3f}")
    return failed


def public_looking(connector: HttpConnector) -> None:
    """Let the guard check a public address while the socket still goes to loopback."""
    from connectors import netguard

    real = netguard.why_blocked
    loopback = ipaddress.ip_address("127.0.0.1")
    netguard.why_blocked = lambda address: None if address == loopback else real(address)
    del connector


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--levels", default="1,16,64")
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--guarded", action="store_true", help="with the outbound guard in front")
    args = parser.parse_args()
    levels = [int(level) for level in args.levels.split(",") if level.strip()]
    with tempfile.TemporaryDirectory(prefix="http-connector-bench-") as workdir:
        upstream = Child("upstream", Path(workdir), "--latency-ms", "0")
        try:
            print(f"upstream {upstream.url} (pid {upstream.pid}); load average {os.getloadavg()[0]:.2f}")
            with asyncio.Runner(loop_factory=loop_factory()) as runner:
                failed = runner.run(measure(upstream.url, levels, args.calls, args.guarded))
        finally:
            upstream.stop()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
