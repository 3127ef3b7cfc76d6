"""Tool-path benchmark: MCP tools/call latency, throughput and gateway CPU, direct vs through the gateway.

Run it from the project root:

    .venv/bin/python bench/tool_path.py                       # SQLite, 0 ms upstream, levels 1,16,64
    .venv/bin/python bench/tool_path.py --levels 1 --scenarios mcp --requests 500
    .venv/bin/python bench/tool_path.py --requests 5000 --upstream-latency-ms 20
    .venv/bin/python bench/tool_path.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test

What it does: starts the demo weather upstream, a small MCP server (bench/_upstreams.py) and the
gateway, each in its own process with one uvicorn worker on 127.0.0.1, seeds a fresh database (a
SQLite file in a temp dir, or a scratch PostgreSQL database created and dropped on the server given
by --database-url) with three connectors, an agent, a key and a policy allowing them all (with a
masking section, so MaskPII masks entities in every result; its mean time per call is printed from
/metrics). Then, per concurrency level and scenario, it drives closed-loop load from lean httpx
clients (one keep-alive connection per worker); gateway calls are raw JSON-RPC `tools/call` POSTs to
/mcp in the stateless 2026-07-28 protocol, with the headers and `_meta` the mcp SDK client sends:
  - http:      direct GET /v1/current?city=... on the weather app; gateway `weather.current`;
  - mcp miss:  direct tools/call `forecast` (~2 KB JSON) on the MCP server; gateway `fed.forecast`
               (federated, cached by the policy) with a new `nonce` argument each time: a miss;
  - mcp hit:   gateway `fed.forecast` with repeated arguments: served by the gateway's cache
               (compared with the mcp miss's direct figures);
  - sql:       gateway `db.by_city`, a named query on a SQLite file (no direct counterpart).
Each answer is checked (HTTP 200; for tools/call a JSON-RPC result with isError false); anything
else counts as an error, and there should be none.

What the numbers mean: p50/p90/p99 are per-request latencies seen by the client in ms; req/s is
answered requests over the phase's wall time; "added at p50" is gateway p50 minus direct p50, the
gateway's cost per call at the median (auth, policy, validation, second HTTP hop, audit, metrics,
MCP transport). CPU ms/req is the CPU time each process used during the phase divided by the
requests: the gateway's own per-call work, independent of queueing; "gateway CPU Nx the
upstream's" divides it by the upstream's CPU per call in the same phase, a figure that moves
far less with the machine than either (at c=1 both rise or fall by 25-50% from one hour to the
next on the 2-core development machine). All three processes share
the machine's cores, so at high concurrency throughput is bounded by CPU, not by waiting; with
a 0 ms upstream the gateway's cost is most visible. At the end the gateway's /metrics counter
and, after a graceful shutdown, the stored audit records are compared with the calls sent.

--profile records the gateway with py-spy if it is installed (it is never installed for you);
--cprofile PATH profiles the gateway's event-loop thread during the measured gateway phases.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import pstats
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._load import (
    CITIES,
    PROTOCOL,
    Arguments,
    Phase,
    Send,
    by_city,
    direct_sender,
    gateway_sender,
    make_client,
    rpc_sender,
    run_phase,
)
from bench._setup import Child, count_audit_records, pii_figures, scratch_database, seed, tool_call_counter
from bench._upstreams import make_sqlite


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--requests", type=int, default=2000, help="measured requests per level and target")
    parser.add_argument("--levels", default="1,16,64", help="comma-separated concurrency levels")
    parser.add_argument("--scenarios", default="http,mcp,sql", help="comma-separated: http, mcp, sql")
    parser.add_argument("--warmup", type=int, default=200, help="warm-up requests per phase (min 2x level)")
    parser.add_argument("--max-seconds", type=float, default=60.0, help="time bound of each phase")
    parser.add_argument("--upstream-latency-ms", type=float, default=0.0, help="weather app's added delay")
    parser.add_argument("--database-url", help="PostgreSQL server URL (a scratch database is made there)")
    parser.add_argument("--profile", action="store_true", help="record the gateway with py-spy if installed")
    parser.add_argument("--cprofile", metavar="PATH", help="write a cProfile of the gateway phases to PATH")
    args = parser.parse_args(argv)
    args.levels = [int(level) for level in args.levels.split(",") if level.strip()]
    args.scenarios = {name.strip() for name in args.scenarios.split(",") if name.strip()}
    if not args.levels or min(args.levels) < 1 or args.requests < 1:
        parser.error("--levels and --requests must be positive")
    return args


@dataclass(frozen=True)
class Scenario:
    name: str
    tool: str | None
    """The gateway's tool; None: no gateway phase."""
    direct: str | None
    """'http' (the weather app), 'mcp' (the MCP server) or None (no direct phase)."""
    arguments: Arguments = by_city


DIRECT_SERVER = {"http": "upstream", "mcp": "mcp"}


def scenarios(run_id: int) -> list[Scenario]:
    def nonce(n: int) -> dict[str, Any]:
        return {"city": CITIES[n % len(CITIES)], "nonce": f"{run_id}-{n}"}

    return [
        Scenario("http", "weather.current", "http"),
        Scenario("mcp miss", "fed.forecast", "mcp", nonce),
        Scenario("mcp hit", "fed.forecast", None),
        Scenario("sql", "db.by_city", None),
    ]


async def measure(args: argparse.Namespace, servers: dict[str, Child], key: str) -> tuple[list[Phase], int]:
    """All phases, per level and scenario direct then gateway; returns them and the tools/call count sent."""
    phases: list[Phase] = []
    sent_to_gateway = 0
    next_id = 1
    pids = {name: child.pid for name, child in servers.items()}
    chosen = [s for s in scenarios(os.getpid()) if s.name.split()[0] in args.scenarios]
    for concurrency in args.levels:
        for scenario in chosen:
            targets = [
                t for t in ("direct", "gateway") if (scenario.direct if t == "direct" else scenario.tool)
            ]
            for target in targets:
                server = servers["gateway" if target == "gateway" else DIRECT_SERVER[scenario.direct or ""]]
                async with contextlib.AsyncExitStack() as clients:
                    pool = [
                        await clients.enter_async_context(make_client(server.url)) for _ in range(concurrency)
                    ]
                    senders = [sender(c, target, scenario, key) for c in pool]
                    label = f"{scenario.name}/{target}"
                    warm = max(args.warmup, 2 * concurrency)
                    warmup = await run_phase(
                        Phase(label, concurrency), senders, requests=warm, max_seconds=args.max_seconds,
                        pids=pids, first_id=next_id,
                    )  # fmt: skip
                    next_id += warm
                    profiling = args.cprofile and target == "gateway"
                    if profiling:
                        servers["gateway"].signal(signal.SIGUSR1)
                    phase = await run_phase(
                        Phase(label, concurrency), senders, requests=args.requests,
                        max_seconds=args.max_seconds, pids=pids, first_id=next_id,
                    )  # fmt: skip
                    if profiling:
                        servers["gateway"].signal(signal.SIGUSR2)
                    next_id += args.requests
                    phase.errors += warmup.errors
                    phase.first_error = phase.first_error or warmup.first_error
                if target == "gateway":
                    sent_to_gateway += warmup.requests + phase.requests + phase.errors  # warm-up's errors too
                phases.append(phase)
                done = f"{phase.requests} requests in {phase.seconds:.1f}s"
                done += f" (stopped by --max-seconds {args.max_seconds:g})" if phase.cut_short else ""
                print(f"  ... c={concurrency:<3} {label:<16} {done}", flush=True)
    return phases, sent_to_gateway


def sender(client: httpx.AsyncClient, target: str, scenario: Scenario, key: str) -> Send:
    if target == "gateway":
        assert scenario.tool is not None
        return gateway_sender(client, key, scenario.tool, scenario.arguments)
    if scenario.direct == "http":
        return direct_sender(client)
    return rpc_sender(client, "forecast", scenario.arguments, {})


def start_py_spy(pid: int, out: Path) -> subprocess.Popen[bytes] | None:
    exe = shutil.which("py-spy")
    if exe is None:
        print("--profile: py-spy is not installed, running without it (it is not installed for you)")
        return None
    print(f"--profile: py-spy records the gateway (pid {pid}) into {out}")
    command = [exe, "record", "--pid", str(pid), "--output", str(out), "--nonblocking"]
    return subprocess.Popen(command, start_new_session=True)


def stop_py_spy(spy: subprocess.Popen[bytes]) -> None:
    if spy.poll() is None:
        spy.send_signal(signal.SIGINT)
        try:
            spy.wait(30)
        except subprocess.TimeoutExpired:
            spy.kill()
            spy.wait(5)


def fmt_cpu(phase: Phase, name: str) -> str:
    if name not in phase.server_cpu or (name == "gateway" and phase.target.endswith("/direct")):
        return "-"
    return f"{phase.cpu_ms_per_request(phase.server_cpu[name]):.2f}"


def _yardstick(phase: Phase, upstream: str) -> str:
    """The gateway's CPU per call over its upstream's in the same phase. Both are Python on
    uvicorn on the same cores, and at c=1 both move together with the machine (by 25-50% from
    one hour to the next here), so this ratio compares runs of different days."""
    gateway, theirs = phase.server_cpu.get("gateway"), phase.server_cpu.get(upstream)
    if not gateway or not theirs:
        return ""
    return f"; gateway CPU {gateway / theirs:.2f}x the upstream's"


def report(args: argparse.Namespace, database: str, phases: list[Phase], load: float) -> None:
    print()
    print(f"Tool-path benchmark: tools/call (MCP {PROTOCOL}, stateless), direct vs gateway")
    print(
        f"  {os.cpu_count()} CPU cores shared by the load generator, the gateway and the upstreams\n"
        f"  (one uvicorn worker each): numbers are relative, not capacity; load average at start {load:.2f}"
    )
    print(
        f"  database: {database} | weather latency: {args.upstream_latency_ms:g} ms | "
        f"{args.requests} requests per level and target after >= {args.warmup} warm-up"
    )
    print()
    header = (
        f"{'conc':>4}  {'scenario/target':<16} {'requests':>8} {'errors':>6} {'p50 ms':>7} {'p90 ms':>7} "
        f"{'p99 ms':>7} {'req/s':>7}   {'CPU ms/req: gateway':>19} {'upstream':>8} {'client':>6}"
    )
    print(header)
    print("-" * len(header))
    direct: dict[tuple[int, str], Phase] = {}
    for p in phases:
        scenario, target = p.target.split("/")
        upstream = "mcp" if scenario.startswith("mcp") else "upstream"
        if target == "direct":
            direct[p.concurrency, upstream] = p
        mark = "*" if p.cut_short else " "
        print(
            f"{p.concurrency:>4}  {p.target:<16} {p.requests:>7}{mark} {p.errors:>6} "
            f"{p.percentile_ms(50):>7.2f} {p.percentile_ms(90):>7.2f} {p.percentile_ms(99):>7.2f} "
            f"{p.throughput:>7.0f}   {fmt_cpu(p, 'gateway'):>19} {fmt_cpu(p, upstream):>8} "
            f"{p.cpu_ms_per_request(p.client_cpu):>6.2f}"
        )
        d = direct.get((p.concurrency, upstream))
        if target == "gateway" and d is not None and scenario != "sql":
            added = p.percentile_ms(50) - d.percentile_ms(50)
            share = p.throughput / d.throughput * 100 if d.throughput else float("nan")
            print(
                f"{'':>4}  added latency at p50: {added:+.2f} ms; gateway req/s {share:.0f}% of direct"
                + ("" if scenario.endswith("hit") else _yardstick(p, upstream))
            )
    if any(p.cut_short for p in phases):
        print(f"* stopped by the time bound (--max-seconds {args.max_seconds:g}) before --requests")
    for p in phases:
        if p.first_error:
            print(f"first error (c={p.concurrency} {p.target}): {p.first_error}")


def print_cprofile(path: str) -> None:
    if not Path(path).exists():
        print(f"--cprofile: no profile written to {path}")
        return
    print(f"\ngateway event-loop thread, measured gateway phases (cProfile, {path}), top by own time:")
    pstats.Stats(path).sort_stats("tottime").print_stats(20)


def run(args: argparse.Namespace) -> int:
    load = os.getloadavg()[0]  # other work on the machine skews every number; shown in the report
    with contextlib.ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="tool-path-bench-")))
        database_url = stack.enter_context(scratch_database(args.database_url, workdir))
        database = "SQLite (temp file)" if args.database_url is None else "PostgreSQL (scratch database)"
        print(f"starting the upstreams and seeding {database} ...", flush=True)
        servers: dict[str, Child] = {}
        servers["upstream"] = Child("upstream", workdir, "--latency-ms", str(args.upstream_latency_ms))
        stack.callback(servers["upstream"].stop)
        servers["mcp"] = Child("mcp", workdir)
        stack.callback(servers["mcp"].stop)
        sqlite_path = workdir / "customers.db"
        make_sqlite(sqlite_path)
        key = seed(database_url, servers["upstream"].url, mcp_url=servers["mcp"].url, sqlite_path=sqlite_path)
        # The seeded policy tokenises e-mails and phones: the gateway needs a PII salt (read from the
        # environment by its Settings); a fresh one per run, like its scratch database.
        os.environ.setdefault("BROKER_PII_SALT", secrets.token_urlsafe(24))
        gateway_args = ["--database-url", database_url]
        if args.cprofile:
            gateway_args += ["--cprofile", str(Path(args.cprofile).resolve())]
        gateway = servers["gateway"] = Child("gateway", workdir, *gateway_args, start_timeout=180)
        stack.callback(gateway.stop)
        print(", ".join(f"{name} {child.url} (pid {child.pid})" for name, child in servers.items()))
        spy = None
        if args.profile:
            spy = start_py_spy(gateway.pid, Path(tempfile.gettempdir()) / "tool-path-gateway.svg")
            if spy is not None:
                stack.callback(stop_py_spy, spy)
        phases, sent = asyncio.run(measure(args, servers, key))
        counted = tool_call_counter(gateway.url)
        masking = pii_figures(gateway.url)
        if spy is not None:
            stop_py_spy(spy)
        exit_code = gateway.stop()
        stored = count_audit_records(database_url)

    report(args, database, phases, load)
    timed, mean_ms, masked = masking
    print(
        f"\nMaskPII (the seeded policy masks coordinates as LOCATION, e-mails and phones as tokens): "
        f"{timed} calls, {mean_ms:.3f} ms each on average in the gateway; entities masked {masked}"
    )
    errors = sum(p.errors for p in phases)
    n_counted, n_stored = round(sum(counted.values())), sum(stored.values())
    print()
    print(f"tools/call sent to the gateway (warm-up included): {sent}")
    print(f"/metrics broker_tool_calls_total:  {n_counted}  by outcome {counted}")
    print(f"audit records stored after shutdown (gateway exit {exit_code}): {n_stored}  by outcome {stored}")
    ok = errors == 0 and n_counted == sent and n_stored == sent
    print(
        "OK: no errors, every call counted and audited"
        if ok
        else f"PROBLEM: {errors} errors, {sent - n_counted} calls not counted, {sent - n_stored} not audited"
    )
    if args.cprofile:
        print_cprofile(args.cprofile)
    return 0 if ok else 1


def _interrupt(signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started in the background
    try:
        return run(args)
    except KeyboardInterrupt:
        print("\ninterrupted: servers stopped, scratch database and temp files removed", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
