"""LLM proxy benchmark: chat completions direct to a mock provider vs through the gateway.

Run it from the project root:

    .venv/bin/python bench/llm_proxy.py                     # levels 1,16,64; 2000 requests each
    .venv/bin/python bench/llm_proxy.py --limits            # with a budget and a rate limit in force
    .venv/bin/python bench/llm_proxy.py --redis-url redis://127.0.0.1:6379/12 --limits

What it does: starts two mock providers (broker/demo/upstreams/llm.py), one answering at once
and one after 50 ms (--slow-ms), and the gateway, each in its own process with one uvicorn
worker on 127.0.0.1; seeds a fresh SQLite database with the two providers, an agent and its
key, and a policy granting every model. Then, per concurrency level, it drives closed-loop
load, one keep-alive connection per worker, from the gateway's own lean HTTP/1.1 client
(a tenth of httpx's CPU per call; --client httpx uses bench/_load.py's httpx clients):
  - non-streaming: POST /v1/chat/completions, a 20-word answer with usage;
  - streaming:     the same with "stream": true, read to [DONE]; time to first token (TTFT) is
                   when the first content event arrives;
  - direct to the mock, then through the gateway (agent key in, provider key out);
and finally the 50 ms provider at the highest level, direct vs gateway, non-streaming.

What the numbers mean: p50/p99 are per-request latencies in ms; "added" is gateway p50 minus
direct p50 (TTFT the same); req/s is answered requests over the phase's wall time. CPU ms/req
is the gateway process's CPU time per request, so "req/s per core" = 1000 / that. All
processes share this machine's cores, so the instant provider's req/s measure the machine, the
CPU figures the gateway. At the end every call sent through the gateway must be in the ledger.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import re
import signal
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx

from bench._llm_setup import PROVIDER_KEY, Server, ledger_rows, seed
from bench._load import Phase, Send, make_client, run_phase
from connectors.http1 import Http1Pool, UpstreamConnectionError, UpstreamTimeout

WORD = re.compile(rb'"content": ?"[^"]')
"""A content event carrying text: the first token."""
TWENTY = re.compile(rb'"completion_tokens": ?20\b')
PROMPT = "Write twenty words about proxies, please. [[words=20]]"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--requests", type=int, default=2000, help="measured requests per phase")
    parser.add_argument("--levels", default="1,16,64", help="comma-separated concurrency levels")
    parser.add_argument("--warmup", type=int, default=200, help="warm-up requests per phase (min 2x level)")
    parser.add_argument("--max-seconds", type=float, default=60.0, help="time bound of each phase")
    parser.add_argument("--modes", default="json,stream", help="json (non-streaming), stream, or both")
    parser.add_argument("--client", choices=["lean", "httpx"], default="lean", help="load generator's client")
    parser.add_argument("--slow-ms", type=float, default=50.0, help="the slow provider's time per answer")
    parser.add_argument(
        "--limits", action="store_true", help="a budget and a rate limit apply (never binding)"
    )
    parser.add_argument("--redis-url", help="keep budgets and limits in this Redis (flushes nothing)")
    parser.add_argument("--cprofile", metavar="PATH", help="cProfile the gateway's measured phases into PATH")
    args = parser.parse_args(argv)
    args.levels = [int(level) for level in args.levels.split(",") if level.strip()]
    return args


def body(stream: bool) -> bytes:
    payload = {"model": "mock-small", "messages": [{"role": "user", "content": PROMPT}], "max_tokens": 64}
    if stream:
        payload["stream"] = True
    return json.dumps(payload).encode()


def httpx_sender(
    client: httpx.AsyncClient, key: str, *, stream: bool, ttfts: list[float], model: str
) -> Send:
    """Requests from an httpx client (as bench/tool_path.py sends them)."""
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    content = body(stream).replace(b'"mock-small"', f'"{model}"'.encode())

    async def send(_: int) -> str | None:
        started, first, tail = time.perf_counter(), None, b""
        async with client.stream(
            "POST", "/v1/chat/completions", content=content, headers=headers
        ) as response:
            async for chunk in response.aiter_raw():
                if first is None and WORD.search(chunk):
                    first = time.perf_counter() - started
                tail = (tail + chunk)[-256:]
        return check(response.status_code, tail, stream, first, ttfts)

    return send


def lean_sender(pool: Http1Pool, key: str, *, stream: bool, ttfts: list[float], model: str) -> Send:
    """Requests from the gateway's own lean HTTP/1.1 client: a tenth of httpx's CPU per call,
    so the load generator leaves the machine's cores to the servers it measures."""
    headers = {"authorization": f"Bearer {key}", "content-type": "application/json"}
    content = body(stream).replace(b'"mock-small"', f'"{model}"'.encode())

    async def send(_: int) -> str | None:
        started, first, tail = time.perf_counter(), None, b""
        try:
            response = await pool.post("/v1/chat/completions", headers, content)
            try:
                async for chunk in response.aiter_bytes():
                    if first is None and WORD.search(chunk):
                        first = time.perf_counter() - started
                    tail = (tail + chunk)[-256:]
            finally:
                await response.aclose()
        except (UpstreamTimeout, UpstreamConnectionError) as exc:
            return f"{type(exc).__name__}: {exc}"
        return check(response.status_code, tail, stream, first, ttfts)

    return send


def check(status: int, tail: bytes, stream: bool, first: float | None, ttfts: list[float]) -> str | None:
    """None if the answer is whole (a 20-word completion, or a stream to [DONE]), else why not."""
    if status != 200:
        return f"HTTP {status}: {tail[:200]!r}"
    if stream:
        if not tail.rstrip().endswith(b"data: [DONE]") or first is None:
            return f"stream did not end with [DONE]: {tail[-64:]!r}"
        ttfts.append(first)
    elif not TWENTY.search(tail):
        return f"unexpected answer: {tail!r}"
    return None


def ms(values: list[float], q: float) -> float:
    """Nearest-rank percentile in milliseconds."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)] * 1000


@dataclass
class Result:
    mode: str
    """json, stream, or the slow provider's label."""
    phase: Phase
    ttfts: list[float]
    sent: int
    """Requests sent, warm-up and errors included."""


async def measure_one(
    args: argparse.Namespace,
    mode: str,
    target: str,
    url: str,
    key: str,
    model: str,
    level: int,
    pids: dict[str, int],
) -> Result:
    ttfts: list[float] = []
    stream = mode == "stream"
    async with contextlib.AsyncExitStack() as clients:
        if args.client == "httpx":
            pool = [await clients.enter_async_context(make_client(url)) for _ in range(level)]
            senders = [httpx_sender(c, key, stream=stream, ttfts=ttfts, model=model) for c in pool]
        else:
            lean = [
                Http1Pool(url, max_connections=1, connect_timeout=5, read_timeout=30) for _ in range(level)
            ]
            for client in lean:
                clients.push_async_callback(client.aclose)
            senders = [lean_sender(c, key, stream=stream, ttfts=ttfts, model=model) for c in lean]
        bound = {"max_seconds": args.max_seconds, "pids": pids, "first_id": 0}
        warmup = await run_phase(Phase(target, level), senders, requests=max(args.warmup, 2 * level), **bound)
        ttfts.clear()
        measured = await run_phase(Phase(target, level), senders, requests=args.requests, **bound)
    measured.errors += warmup.errors
    measured.first_error = measured.first_error or warmup.first_error
    sent = measured.requests + measured.errors + warmup.requests
    print(f"  ... {mode:6} c={level:<3} {target:8} {measured.requests} requests in {measured.seconds:.1f}s")
    return Result(mode, measured, ttfts, sent)


async def measure(
    args: argparse.Namespace, fast: Server, slow: Server, gateway: Server, key: str
) -> list[Result]:
    results: list[Result] = []
    pids = {"gateway": gateway.pid}
    profile = bool(args.cprofile)
    for mode in args.modes.split(","):
        for level in args.levels:
            results.append(
                await measure_one(args, mode, "direct", fast.url, PROVIDER_KEY, "mock-small", level, pids)
            )
            if profile:
                gateway.signal(signal.SIGUSR1)
            results.append(
                await measure_one(args, mode, "gateway", gateway.url, key, "fast/mock-small", level, pids)
            )
            if profile:
                gateway.signal(signal.SIGUSR2)
    slow_mode, top = f"{args.slow_ms:g}ms", max(args.levels)
    results.append(
        await measure_one(args, slow_mode, "direct", slow.url, PROVIDER_KEY, "mock-small", top, pids)
    )
    results.append(
        await measure_one(args, slow_mode, "gateway", gateway.url, key, "slow/mock-small", top, pids)
    )
    return results


def report(args: argparse.Namespace, results: list[Result], load: float) -> None:
    print()
    print(
        "LLM proxy benchmark: POST /v1/chat/completions, 20-word answers, direct to a mock vs via the gateway"
    )
    print(f"  {os.cpu_count()} CPU cores shared by the load generator, the gateway and the mocks; "
          f"load average at start {load:.2f}")  # fmt: skip
    extra = " | budgets and rate limits in force" if args.limits else ""
    extra += f" (in Redis {args.redis_url})" if args.redis_url else ""
    print(f"  {args.requests} requests per phase after >= {args.warmup} warm-up{extra}")
    print()
    header = (f"{'mode':<6} {'conc':>4}  {'target':<8} {'errors':>6} {'p50 ms':>7} {'p99 ms':>7} "
              f"{'TTFT p50':>8} {'req/s':>7}   {'gw CPU ms/req':>13} {'req/s/core':>10}")  # fmt: skip
    print(header)
    print("-" * len(header))
    direct: dict[tuple[str, int], Result] = {}
    for result in results:
        p, gateway = result.phase, result.phase.target == "gateway"
        cpu = p.cpu_ms_per_request(p.server_cpu.get("gateway", float("nan")))
        ttft = f"{ms(result.ttfts, 50):8.2f}" if result.ttfts else f"{'-':>8}"
        cpu_text = f"{cpu:13.3f} {1000 / cpu:10.0f}" if gateway and cpu > 0 else f"{'-':>13} {'-':>10}"
        print(f"{result.mode:<6} {p.concurrency:>4}  {p.target:<8} {p.errors:>6} {p.percentile_ms(50):7.2f} "
              f"{p.percentile_ms(99):7.2f} {ttft} {p.throughput:7.0f}   {cpu_text}")  # fmt: skip
        key = (result.mode, p.concurrency)
        if not gateway:
            direct[key] = result
        elif key in direct:
            d = direct[key]
            line = f"{'':>13}added at p50 {p.percentile_ms(50) - d.phase.percentile_ms(50):+.2f} ms"
            if result.ttfts:
                line += f", TTFT {ms(result.ttfts, 50) - ms(d.ttfts, 50):+.2f} ms"
            share = p.throughput / d.phase.throughput * 100 if d.phase.throughput else float("nan")
            print(f"{line}; gateway req/s {share:.0f}% of direct")
    for result in results:
        if result.phase.first_error:
            p = result.phase
            print(f"first error ({result.mode} c={p.concurrency} {p.target}): {p.first_error}")


def run(args: argparse.Namespace) -> int:
    load = os.getloadavg()[0]
    with contextlib.ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="llm-proxy-bench-")))
        database_url = f"sqlite:///{workdir / 'bench.db'}"
        print("starting two mock providers and seeding the gateway's database ...", flush=True)
        fast = Server("fast", "mock", workdir, "--api-key", PROVIDER_KEY)
        stack.callback(fast.stop)
        slow = Server("slow", "mock", workdir, "--api-key", PROVIDER_KEY, "--latency-ms", str(args.slow_ms))
        stack.callback(slow.stop)
        key = seed(database_url, fast.url, slow.url, limits=args.limits)
        gateway_args = ["--database-url", database_url]
        if args.redis_url:
            gateway_args += ["--redis-url", args.redis_url]
        if args.cprofile:
            gateway_args += ["--cprofile", str(Path(args.cprofile).resolve())]
        env = {"BROKER_LLM_PROVIDER_KEYS": json.dumps({"BENCH_KEY": PROVIDER_KEY})}
        gateway = Server("gateway", "gateway", workdir, *gateway_args, env=env)
        stack.callback(gateway.stop)
        print(f"mocks {fast.url} (instant) and {slow.url} ({args.slow_ms:g} ms); gateway {gateway.url}")
        results = asyncio.run(measure(args, fast, slow, gateway, key))
        code = gateway.stop()
        stored = ledger_rows(database_url)
    report(args, results, load)
    errors = sum(r.phase.errors for r in results)
    sent = sum(r.sent for r in results if r.phase.target == "gateway")
    total = sum(stored.values())
    print()
    print(f"calls sent through the gateway (warm-up included): {sent}; "
          f"ledger rows after shutdown (exit {code}): {total} {stored}")  # fmt: skip
    ok = errors == 0 and total == sent and set(stored) == {"ok"}
    print(
        "OK: no errors, every call in the ledger"
        if ok
        else f"PROBLEM: {errors} errors, {sent - total} not in the ledger"
    )
    if args.cprofile and Path(args.cprofile).exists():
        import pstats

        pstats.Stats(args.cprofile).sort_stats("tottime").print_stats(25)
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(
        signal.SIGTERM, lambda signum, _: (_ for _ in ()).throw(KeyboardInterrupt(f"signal {signum}"))
    )
    try:
        return run(args)
    except KeyboardInterrupt:
        print("\ninterrupted: servers stopped, temp files removed", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
