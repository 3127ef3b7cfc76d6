"""Cache-hit benchmark in one process: what a tools/call served from the cache costs the gateway.

Run it from the project root:

    .venv/bin/python bench/pipeline_hit.py                  # SQLite, 5 rounds of 5,000 calls per phase
    .venv/bin/python bench/pipeline_hit.py --phases pipeline --rounds 9
    .venv/bin/python bench/pipeline_hit.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/DB

The gateway is the real app (`broker.app.create_app`, lifespan run in this process) over the
tool-path bench's seed (bench/_setup.py: masking on, `fed.forecast` cached) with the MCP server of
bench/_upstreams.py in a process of its own, asked once per city to fill the cache. Two phases
alternate, `--rounds` times each:

  - pipeline: `gateway.pipeline(ToolCall)` as the fast path builds the call (Audit, Authorize,
    ValidateArguments, Cache hit, and the stage timing), nothing else;
  - asgi:     a raw JSON-RPC tools/call POST to /mcp through the app's ASGI callable (request
    ids, the MCP fast path, key check, the pipeline, the answer's serialisation), no HTTP server.

Figures are CPU microseconds per call, least and median over the rounds (the least is the
steadiest on a shared machine): the event-loop thread (`thread_time`) and every other thread
(the audit writer), the writer's flush of the phase's records included. At the end the audit rows and the
tools/call counter are checked against the calls made.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._load import CITIES, META, PROTOCOL
from bench._setup import Child, count_audit_records, scratch_database, seed

TOOL = "fed.forecast"


def asgi_caller(app: Any, key: str) -> Callable[[int], Awaitable[None]]:
    """One tools/call POST through the app's ASGI callable; raises unless the result is a success."""
    headers = [
        (b"host", b"127.0.0.1:8000"),
        (b"authorization", f"Bearer {key}".encode()),
        (b"accept", b"application/json, text/event-stream"),
        (b"content-type", b"application/json"),
        (b"mcp-protocol-version", PROTOCOL.encode()),
        (b"mcp-method", b"tools/call"),
        (b"mcp-name", TOOL.encode()),
    ]
    bodies = [
        json.dumps(
            {
                "jsonrpc": "2.0",
                "id": n,
                "method": "tools/call",
                "params": {"name": TOOL, "arguments": {"city": city}, "_meta": META},
            }
        ).encode()
        for n, city in enumerate(CITIES)
    ]

    async def call(n: int) -> None:
        body = bodies[n % len(bodies)]
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": "/mcp",
            "raw_path": b"/mcp",
            "query_string": b"",
            "root_path": "",
            "headers": [*headers, (b"content-length", str(len(body)).encode())],
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 8000),
        }
        sent = False
        answer: list[bytes] = []
        status = 0

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            await asyncio.Event().wait()
            raise AssertionError("unreachable")

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                answer.append(message.get("body", b""))

        await app(scope, receive, send)
        result = json.loads(b"".join(answer)).get("result") if status == 200 else None
        if not isinstance(result, dict) or result.get("isError", False) is not False:
            raise RuntimeError(f"HTTP {status}: {b''.join(answer)[:200]!r}")

    return call


def pipeline_caller(gateway: Any) -> Callable[[int], Awaitable[None]]:
    """`gateway.pipeline` on a ToolCall built as the MCP fast path builds it."""
    from broker.mcp.channel import STATELESS
    from broker.pipeline import ToolCall

    async def call(n: int) -> None:
        snapshot = gateway.state.snapshot
        made = ToolCall(
            request_id=f"bench-{n}",
            agent=snapshot.agents["bench"],
            tool_name=TOOL,
            arguments={"city": CITIES[n % len(CITIES)]},
            snapshot=snapshot,
            only_connectors=None,
            cache_bypass=False,
            channel=STATELESS,
        )
        output = await gateway.pipeline(made)
        if output.is_error or made.notes.get("cache") != "hit":
            raise RuntimeError(f"not a cache hit: {made.notes}")

    return call


async def phase(call: Callable[[int], Awaitable[None]], calls: int, writer: Any) -> tuple[float, float]:
    """Event-loop and other-thread CPU µs per call, the audit writer's flush of these calls included."""
    await writer.flush()
    process, loop = time.process_time(), time.thread_time()
    for n in range(calls):
        await call(n)
        if n % 50 == 0:
            await asyncio.sleep(0)  # let the writer take its batches, as a server would
    await writer.flush()
    loop_cpu = time.thread_time() - loop
    other = time.process_time() - process - loop_cpu
    return loop_cpu / calls * 1e6, other / calls * 1e6


Figures = dict[str, list[tuple[float, float]]]


async def measure(args: argparse.Namespace, database_url: str, key: str) -> Figures:
    from broker.app import create_app
    from broker.settings import Settings

    settings = Settings(database_url=database_url, host="127.0.0.1", port=8000, log_level="warning")
    app = create_app(settings)
    gateway = app.state.gateway
    figures: Figures = {name: [] for name in args.phases.split(",")}
    async with app.router.lifespan_context(app):
        callers = {"pipeline": pipeline_caller(gateway), "asgi": asgi_caller(app, key)}
        callers = {name: callers[name] for name in args.phases.split(",")}
        for call in callers.values():  # warm-up; the first call per city fills the cache
            for n in range(2000):
                with contextlib.suppress(RuntimeError) if n < len(CITIES) else contextlib.nullcontext():
                    await call(n)
        for _ in range(args.rounds):
            for name, call in callers.items():
                figures[name].append(await phase(call, args.calls, gateway.audit))
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--calls", type=int, default=5000, help="calls per phase")
    parser.add_argument("--rounds", type=int, default=5, help="phases of each kind, alternated")
    parser.add_argument("--phases", default="pipeline,asgi", help="comma-separated: pipeline, asgi")
    parser.add_argument("--database-url", help="PostgreSQL server URL (a scratch database is made there)")
    args = parser.parse_args(argv)
    os.environ.setdefault("BROKER_PII_SALT", secrets.token_urlsafe(24))  # as bench/tool_path.py: masking on
    with contextlib.ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="pipeline-hit-")))
        database_url = stack.enter_context(scratch_database(args.database_url, workdir))
        upstream = Child("upstream", workdir)
        stack.callback(upstream.stop)
        mcp = Child("mcp", workdir)
        stack.callback(mcp.stop)
        key = seed(database_url, upstream.url, mcp_url=mcp.url)
        figures = asyncio.run(measure(args, database_url, key))
        rows = count_audit_records(database_url)
    print(f"Cache hit in one process, CPU µs per call ({args.calls} calls x {args.rounds} rounds)")
    print(f"   {'phase':<9} {'loop min':>9} {'median':>7} {'others min':>11} {'median':>7}")
    for name, runs in figures.items():
        loop, other = [x for x, _ in runs], [y for _, y in runs]
        print(
            f"   {name:<9} {min(loop):>9.1f} {statistics.median(loop):>7.1f} "
            f"{min(other):>11.1f} {statistics.median(other):>7.1f}"
        )
    expected = (2000 + args.calls * args.rounds) * len(figures)
    print(f"   audit rows by outcome {rows}; calls made {expected}")
    return 0 if rows == {"ok": expected} else 1


if __name__ == "__main__":
    raise SystemExit(main())
