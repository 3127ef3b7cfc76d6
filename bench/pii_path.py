"""PII masking end to end: tools/call results of 2 KB, 100 KB and 5 MB masked by the gateway.

Run it from the project root:

    .venv/bin/python bench/pii_path.py                   # 2 KB x 1,000, 100 KB x 300, 5 MB x 4
    .venv/bin/python bench/pii_path.py --rounds 2
    .venv/bin/python bench/pii_path.py --sizes 100     # one size only
    .venv/bin/python bench/pii_path.py --sizes 100 --vault-calls 3000   # a vault of ~850,000 tokens

What it does: starts the bench MCP server (bench/_upstreams.py) and the demo weather app, seeds
the gateway as bench/tool_path.py does (the policy tokenises e-mails and phones, so every record
of a result has entities to mask and tokens to issue), and calls the federated tool `fed.sized`
(CRM-like records: names, e-mails, phones, notes with order numbers and IP addresses) one at a
time, each call with a new `seed` so every result is new to the masker and its token vault.
The same calls straight to the MCP server give the "direct" figures. The vault starts empty;
`--vault-calls` fills it first, to show what a call costs over a vault that has grown (the SQLite
vault's flush cost more as it grew until its slots were appended: bench/vault_stage.py --prefill).

What the numbers mean: MB/s is result bytes per second of the gateway's CPU (masking, the MCP
relay, the audit record: everything the gateway does for the call, in its own process and in the
worker processes that mask big results, and what it writes behind once the calls are answered:
the CPU is read when the gateway has been idle for a while after them, so the SQLite vault's
writes of their tokens count), and per second of wall time
at the client. "stall" is the worst latency of small `weather.current` calls sent at the same
time from another connection, one at a time: how long a big result holds up everything else
on the worker. "upstream CPU" is the MCP server's CPU per call in the direct phase (it makes and
writes each result, Python on uvicorn as the gateway is), and "gw/upstream" the gateway's CPU
over it: on the 2-core development machine both move by up to 2x from one hour to the next,
their ratio far less, so it compares runs of different days. The direct phase makes half of its
calls (each result new to the server too) just before the gateway's and half just after, the
gateway's results made by the server beforehand, unmeasured, as before: read one after the other,
the two phases met the machine at different speeds (the ratio read 1.07-1.68 in 31 runs of one
hour).
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
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx

from bench._load import (
    META,
    Phase,
    gateway_sender,
    make_client,
    process_cpu_seconds,
    rpc_sender,
    run_phase,
    settled,
)
from bench._setup import Child, scratch_database, seed

SIZES = ((2, 1000), (100, 300), (5000, 4))
"""(KB, calls) per size: enough that a size's gateway CPU is 100+ clock ticks (/proc counts CPU in
10 ms ticks: 30 calls of 100 KB, ~12 ticks, read 3.67, 4.00 or 4.33 ms a call for the same work),
and that what the idle gateway spends while the bench waits for its writes behind (its polls and
timers, ~10 ms a second for ~1.5 s) is ~0.05 ms a call of 100 KB or less."""


async def sized_calls(
    client: httpx.AsyncClient, key: str | None, kb: int, calls: int, first_seed: int
) -> tuple[list[float], int]:
    """`calls` tools/call of a `kb` KB result, one at a time (through the gateway with `key`, else
    straight to the MCP server); wall seconds of each, and the result bytes received."""
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    tool = "fed.sized" if key else "sized"
    sizes: list[int] = []

    async def one(n: int) -> None:
        body = {"name": tool, "arguments": {"kb": kb, "seed": first_seed + n}, "_meta": META}
        reply = await client.post(
            "/mcp",
            content=json.dumps({"jsonrpc": "2.0", "id": n, "method": "tools/call", "params": body}),
            headers=HEADERS | {"Mcp-Name": tool} | headers,
        )
        result = reply.json().get("result")
        if not isinstance(result, dict):
            raise RuntimeError(f"not a result: {reply.text[:200]}")
        if result.get("isError"):
            raise RuntimeError(f"tool error: {result['content'][0]['text'][:200]}")
        sizes.append(len(result["content"][0]["text"].encode()))

    walls = []
    for n in range(calls):
        started = time.perf_counter()
        await one(n)
        walls.append(time.perf_counter() - started)
    return walls, sum(sizes)


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds of a process and its live children (the gateway's worker processes mask big
    results: their CPU is the gateway's as much as its own)."""
    total = process_cpu_seconds(pid)
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                total += process_cpu_seconds(int(entry))
    return total


HEADERS = {
    "Accept": "application/json, text/event-stream",
    "Content-Type": "application/json",
    "MCP-Protocol-Version": "2026-07-28",
    "Mcp-Method": "tools/call",
}


async def stall_probe(url: str, key: str, stop: asyncio.Event) -> list[float]:
    """Latencies of small gateway calls, one at a time, until `stop`."""
    async with make_client(url) as client:
        send = gateway_sender(client, key)
        latencies = []
        n = 10_000_000
        while not stop.is_set():
            started = time.perf_counter()
            problem = await send(n)
            if problem:
                print(f"  probe call failed: {problem[:300]}")
            latencies.append(time.perf_counter() - started)
            n += 1
            await asyncio.sleep(0.005)
    return latencies


async def measure(args: argparse.Namespace, mcp: Child, gateway: Child, key: str) -> list[dict[str, Any]]:
    rows = []
    seed_base = 0
    async with make_client(mcp.url) as direct, make_client(gateway.url) as through:
        # warm up: first calls load code paths and fill the vault's connections; one call of
        # each size measured starts the masking workers that big results go to (their start,
        # ~0.6 s of CPU for imports and the first masker, is not what a call costs)
        await sized_calls(through, key, 2, 20, 9_000_000)
        if args.vault_calls:  # a vault that already holds many tokens, as a gateway's after a while
            await sized_calls(through, key, 100, args.vault_calls, 8_000_000)
        for kb, _ in SIZES:
            if kb > 2 and (not args.sizes or kb in args.sizes):
                await sized_calls(through, key, kb, 1, 9_100_000 + kb)
        await run_phase(
            Phase("w", 1), [rpc_sender(direct, "sized", lambda n: {"kb": 2}, {})],
            requests=20, max_seconds=30, pids={}, first_id=1,
        )  # fmt: skip
        for kb, calls in SIZES:
            if args.sizes and kb not in args.sizes:
                continue
            calls = max(1, round(calls * args.rounds))
            half = max(1, calls // 2)
            row: dict[str, Any] = {"kb": kb, "calls": calls, "direct_calls": 2 * half}
            # The server's half before the gateway's calls and half after, so the two are read over
            # the same span; the gateway's results made first, unmeasured (not while it masks).
            await sized_calls(direct, None, kb, calls, seed_base + half)
            plan = (("direct", half, seed_base), ("gateway", calls, seed_base + half))
            plan += (("direct", half, seed_base + half + calls),)
            for target, count, first_seed in plan:
                pid = mcp.pid if target == "direct" else gateway.pid
                client = direct if target == "direct" else through
                await settled(partial(tree_cpu_seconds, pid))  # what earlier calls left to write
                cpu, own = tree_cpu_seconds(pid), process_cpu_seconds(pid)
                started = time.perf_counter()
                walls, total = await sized_calls(
                    client, key if target == "gateway" else None, kb, count, first_seed
                )
                wall = time.perf_counter() - started
                await settled(partial(tree_cpu_seconds, pid))  # the tokens written behind, audit rows
                spent = row.setdefault(target, {"walls": [], "bytes": 0, "wall": 0.0, "cpu": 0.0, "own": 0.0})
                spent["walls"] += walls
                spent["bytes"] += total
                spent["wall"] += wall
                spent["cpu"] += tree_cpu_seconds(pid) - cpu
                spent["own"] += process_cpu_seconds(pid) - own
            for spent in (row["direct"], row["gateway"]):
                spent["p50"] = sorted(spent["walls"])[len(spent["walls"]) // 2]
            seed_base += calls + 2 * half
            # Then a few more calls with small ones sent meanwhile, for the stall figures.
            stop = asyncio.Event()
            probe = asyncio.create_task(stall_probe(gateway.url, key, stop))
            await sized_calls(through, key, kb, min(calls, 3), seed_base)
            stop.set()
            stalls = sorted(await probe)
            row["gateway"] |= {"stall": stalls[-1], "probe_p50": stalls[len(stalls) // 2]}
            seed_base += calls
            rows.append(row)
            print(f"  ... {kb} KB x {calls} done", flush=True)
    return rows


def report(rows: list[dict[str, Any]], load: float, vault_calls: int) -> None:
    nan = float("nan")
    print(
        f"\nPII masking end to end through tools/call "
        f"(load average at start {load:.2f}, {os.cpu_count()} cores)"
        + (f"; the vault first filled by {vault_calls} calls of 100 KB" if vault_calls else "")
    )
    print(
        f"{'result':>8} {'calls':>5}  {'direct p50 ms':>13} {'gateway p50 ms':>14}  "
        f"{'gateway CPU ms/call':>19} {'of it in workers':>16} {'MB/s (gw CPU)':>13} {'MB/s (wall)':>11}  "
        f"{'small calls meanwhile: p50 / worst ms':>37}  {'upstream CPU ms/call':>20} {'gw/upstream':>11}"
    )
    for row in rows:
        d, g = row["direct"], row["gateway"]
        size = g["bytes"] / row["calls"]
        extra_cpu = g["cpu"]
        print(
            f"{size / 1000:>6.0f}KB {row['calls']:>5}  {d['p50'] * 1000:>13.2f} {g['p50'] * 1000:>14.2f}  "
            f"{extra_cpu / row['calls'] * 1000:>19.2f} {(extra_cpu - g['own']) / row['calls'] * 1000:>16.2f} "
            f"{g['bytes'] / 1e6 / extra_cpu:>13.2f} "
            f"{g['bytes'] / 1e6 / g['wall']:>11.2f}  "
            f"{g['probe_p50'] * 1000:>17.1f} / {g['stall'] * 1000:>8.1f}  "
            f"{d['cpu'] / row['direct_calls'] * 1000:>20.2f} "
            f"{extra_cpu / row['calls'] / (d['cpu'] / row['direct_calls']) if d['cpu'] else nan:>11.2f}"
        )


def run(args: argparse.Namespace) -> int:
    load = os.getloadavg()[0]
    with contextlib.ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="pii-path-bench-")))
        database_url = stack.enter_context(scratch_database(None, workdir))
        upstream = Child("upstream", workdir)
        stack.callback(upstream.stop)
        mcp = Child("mcp", workdir)
        stack.callback(mcp.stop)
        key = seed(database_url, upstream.url, mcp_url=mcp.url)
        os.environ.setdefault("BROKER_PII_SALT", secrets.token_urlsafe(24))
        gateway = Child("gateway", workdir, "--database-url", database_url)
        stack.callback(gateway.stop)
        rows = asyncio.run(measure(args, mcp, gateway, key))
    report(rows, load, args.vault_calls)
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=float, default=1.0, help="multiplies the calls per size")
    parser.add_argument("--sizes", type=int, nargs="*", help="only these sizes in KB (2, 100, 5000)")
    parser.add_argument(
        "--vault-calls", type=int, default=0, metavar="N",
        help="first make N calls of 100 KB, unmeasured, so the vault holds their tokens (~280 a call)",
    )  # fmt: skip
    sys.exit(run(parser.parse_args()))
