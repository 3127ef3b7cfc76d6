"""The load generator of the tool-path benchmark: lean httpx clients and the numbers they yield.

Each phase runs `concurrency` workers; each worker owns an httpx.AsyncClient with a pool of one
HTTP/1.1 keep-alive connection (so `concurrency` connections in all) and sends its next request
as soon as the last one is answered (closed loop), until `requests` have been sent or the
deadline passes. One client per worker, not one shared pool: httpcore's pool does work in
proportion to its size on every request, which at 64 connections costs the load generator ~3 ms
of CPU per request (against ~0.6 ms with a pool per worker) and would measure the client.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import math
import os
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

# httpcore does `import sniffio` each time it sets up a lock (~10 times per request); without
# sniffio installed each miss searches sys.path. Cache the miss so the client stays lean (this
# changes only the load generator; the gateway runs as installed).
if importlib.util.find_spec("sniffio") is None:
    sys.modules["sniffio"] = None  # type: ignore[assignment]

PROTOCOL = "2026-07-28"
TOOL = "weather.current"
CITIES = ("Paris", "London", "Tokyo", "Berlin", "Madrid", "Rome", "Sydney", "Toronto")
# What the mcp SDK client puts in every request's params in the stateless 2026-07-28 protocol.
META = {
    "io.modelcontextprotocol/protocolVersion": PROTOCOL,
    "io.modelcontextprotocol/clientInfo": {"name": "tool-path-bench", "version": "0.1.0"},
    "io.modelcontextprotocol/clientCapabilities": {},
}

Send = Callable[[int], Awaitable[str | None]]  # request number -> None if fine, else what went wrong


@dataclass
class Phase:
    target: str
    concurrency: int
    latencies: list[float] = field(default_factory=list)  # seconds, one per answered request
    errors: int = 0
    first_error: str | None = None
    seconds: float = 0.0
    client_cpu: float = 0.0  # CPU seconds the load generator itself used
    server_cpu: dict[str, float] = field(default_factory=dict)  # process name -> CPU seconds
    cut_short: bool = False  # the time bound ended the phase before all requests were sent

    @property
    def requests(self) -> int:
        return len(self.latencies)

    def percentile_ms(self, q: float) -> float:
        """Nearest-rank percentile of the latencies, in milliseconds."""
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)] * 1000

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def cpu_ms_per_request(self, seconds: float) -> float:
        return seconds / self.requests * 1000 if self.requests else float("nan")


def make_client(base_url: str) -> httpx.AsyncClient:
    """A client with one keep-alive connection, for one worker. An idle connection is dropped after
    2 s: the servers close theirs after 5 (uvicorn's default), httpx's after 5 too, so one idle
    for about that long could be closed by the server just as it was sent a request again
    (`httpx.ReadError` once in a bench/pii_path.py run at a slow hour)."""
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1, keepalive_expiry=2.0)
    return httpx.AsyncClient(base_url=base_url, limits=limits, timeout=httpx.Timeout(30.0), trust_env=False)


Arguments = Callable[[int], dict[str, Any]]
"""Request number -> the tool's arguments."""


def by_city(n: int) -> dict[str, Any]:
    return {"city": CITIES[n % len(CITIES)]}


def rpc_sender(client: httpx.AsyncClient, tool: str, arguments: Arguments, headers: dict[str, str]) -> Send:
    """Raw JSON-RPC tools/call POSTs to /mcp, headers as the mcp SDK client sends them."""
    headers = {
        "Accept": "application/json, text/event-stream",
        "Content-Type": "application/json",
        "MCP-Protocol-Version": PROTOCOL,
        "Mcp-Method": "tools/call",
        "Mcp-Name": tool,
        **headers,
    }

    async def send(n: int) -> str | None:
        params = {"name": tool, "arguments": arguments(n), "_meta": META}
        body = json.dumps({"jsonrpc": "2.0", "id": n, "method": "tools/call", "params": params})
        response = await client.post("/mcp", content=body, headers=headers)
        if response.status_code != 200:
            return f"HTTP {response.status_code}: {response.text[:200]}"
        reply = response.json()
        result = reply.get("result")
        if reply.get("id") != n or not isinstance(result, dict):
            return f"not a JSON-RPC result: {response.text[:200]}"
        if result.get("isError", False) is not False or not result.get("content"):
            return f"tool error: {response.text[:200]}"
        return None

    return send


def gateway_sender(
    client: httpx.AsyncClient, key: str, tool: str = TOOL, arguments: Arguments = by_city
) -> Send:
    """tools/call through the gateway, with the agent's key."""
    return rpc_sender(client, tool, arguments, {"Authorization": f"Bearer {key}"})


def direct_sender(client: httpx.AsyncClient) -> Send:
    """The equivalent GET straight to the weather upstream."""
    urls = [str(httpx.URL("/v1/current", params={"city": c})) for c in CITIES]

    async def send(n: int) -> str | None:
        response = await client.get(urls[n % len(urls)])
        if response.status_code != 200:
            return f"HTTP {response.status_code}: {response.text[:200]}"
        if "current" not in response.json():
            return f"unexpected body: {response.text[:200]}"
        return None

    return send


def process_cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc (Linux); NaN elsewhere."""
    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()  # noqa: SIM115
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def run_phase(
    phase: Phase,
    senders: list[Send],
    *,
    requests: int,
    max_seconds: float,
    pids: dict[str, int],
    first_id: int,
) -> Phase:
    """Drive the senders closed-loop, one worker each; fill in `phase`."""
    deadline = time.monotonic() + max_seconds
    next_id = first_id
    last_id = first_id + requests

    async def worker(send: Send) -> None:
        nonlocal next_id
        while next_id < last_id and time.monotonic() < deadline:
            n, next_id = next_id, next_id + 1
            started = time.perf_counter()
            try:
                problem = await send(n)
            except (httpx.HTTPError, ValueError) as exc:
                problem = f"{type(exc).__name__}: {exc}"
            if problem is None:
                phase.latencies.append(time.perf_counter() - started)
            else:
                phase.errors += 1
                phase.first_error = phase.first_error or problem

    cpu_before = {name: process_cpu_seconds(pid) for name, pid in pids.items()}
    client_before = time.process_time()
    started = time.perf_counter()
    await asyncio.gather(*(worker(send) for send in senders))
    phase.seconds = time.perf_counter() - started
    phase.cut_short = next_id < last_id
    phase.client_cpu = time.process_time() - client_before
    phase.server_cpu = {name: process_cpu_seconds(pid) - cpu_before[name] for name, pid in pids.items()}
    return phase


QUIET_SECONDS = 1.2
"""Longer than anything the gateway writes behind waits: audit rows and ledger entries 0.5 s,
PII tokens ~0.1 s once calls stop (up to 1 s while they keep coming)."""


async def settled(cpu_seconds: Callable[[], float], *, limit: float = 30.0) -> None:
    """Return once the processes `cpu_seconds` reads have been idle for QUIET_SECONDS (at most one
    10 ms clock tick), or after `limit` seconds: what a phase's calls left to be written behind
    is then counted with them, not with the next phase or not at all.

    The wait counts what the idle gateway spends too (its polls and timers: ~10 ms a second for
    bench/_setup.py's, more with a big catalog), so it is for phases whose calls leave much
    behind (bench/pii_path.py: the vault's tokens, ~1 ms a 100 KB call) and long enough for that
    to weigh little. `run_phase` does not wait: the audit rows a phase leaves (tens of
    microseconds a call) weigh less than the wait would add to a short phase (400 calls of
    bench/catalog.py: 0.1-0.3 ms a call)."""
    samples: list[tuple[float, float]] = []
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        now, cpu = time.monotonic(), cpu_seconds()
        if math.isnan(cpu):
            return
        samples = [(at, seen) for at, seen in samples if at >= now - QUIET_SECONDS] + [(now, cpu)]
        if now - samples[0][0] >= QUIET_SECONDS - 0.15 and cpu - samples[0][1] <= 0.011:
            return
        await asyncio.sleep(0.1)


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop when it is installed, as uvicorn picks for the gateway."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop
