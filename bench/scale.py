"""Scale-out benchmark: LLM proxy throughput of `broker serve --workers N` for N = 1, 2.

Run it from the project root (PostgreSQL and Redis on loopback, as for the tests):

    .venv/bin/python bench/scale.py                         # workers 1,2; concurrency 32
    .venv/bin/python bench/scale.py --workers 1,2,4 --requests 4000

What it does: starts the mock provider (bench/_llm_serve.py, answering at once), seeds a fresh
PostgreSQL database (an agent, a provider, a budget and a rate limit that never bind, so every
call runs the shared Redis admission), then for each N starts `broker serve --workers N`
against that database and Redis (db 13), drives closed-loop non-streaming chat completions
from the gateway's lean HTTP/1.1 client, and stops the server with SIGTERM. It prints
requests per second and p50/p99, and checks that the ledger holds every call answered.

The load generator, the mock and the workers share this machine's cores: on a 2-core machine
the second worker competes with them, so the ratio shows how much a second core buys here,
not the ceiling of a real deployment (there, instances add capacity until PostgreSQL's ledger
writes or Redis's single thread saturate; see docs/operations.md).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
import psycopg

from bench._llm_setup import PROVIDER_KEY, Server, ledger_rows, seed
from bench._load import Phase, run_phase
from bench.llm_proxy import lean_sender
from connectors.http1 import Http1Pool

ROOT = Path(__file__).resolve().parents[1]
ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_gateway(
    workers: int, database_url: str, redis_url: str, mock_url: str
) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {
        **os.environ,
        "BROKER_DATABASE_URL": database_url,
        "BROKER_REDIS_URL": redis_url,
        "BROKER_REDIS_CHANNEL": f"broker:bench:{uuid.uuid4().hex}",
        "BROKER_LLM_PROVIDER_KEYS": f'{{"BENCH_KEY": "{PROVIDER_KEY}"}}',
        "BROKER_LOG_LEVEL": "warning",
    }
    command = [str(ROOT / ".venv/bin/broker"), "serve", "--port", str(port), "--workers", str(workers)]
    process = subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300  # workers import the app in parallel: slow on a busy machine
    while True:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/readyz", timeout=2, trust_env=False).status_code == 200:
                return process, url
        if process.poll() is not None or time.monotonic() > deadline:
            os.killpg(process.pid, signal.SIGKILL)
            raise RuntimeError(f"the gateway with {workers} workers did not become ready")
        time.sleep(0.1)


async def drive(url: str, key: str, level: int, requests: int, warmup: int) -> Phase:
    ttfts: list[float] = []
    pools = [Http1Pool(url, max_connections=1, connect_timeout=5, read_timeout=30) for _ in range(level)]
    try:
        senders = [lean_sender(p, key, stream=False, ttfts=ttfts, model="fast/mock-small") for p in pools]
        await run_phase(Phase("warmup", level), senders, requests=warmup, max_seconds=60, pids={}, first_id=0)
        phase = Phase(url, level)
        return await run_phase(phase, senders, requests=requests, max_seconds=120, pids={}, first_id=warmup)
    finally:
        for pool in pools:
            await pool.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/13")
    args = parser.parse_args()
    name = f"broker_bench_{uuid.uuid4().hex[:10]}"
    database_url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    workdir = Path(os.environ.get("TMPDIR", "/tmp"))
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    mock = Server("mock", "mock", workdir, "--api-key", PROVIDER_KEY)
    try:
        key = seed(database_url, mock.url, mock.url, limits=True)
        answered = 0
        print(f"{'workers':>7} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6}")
        for workers in [int(w) for w in args.workers.split(",")]:
            process, url = start_gateway(workers, database_url, args.redis_url, mock.url)
            try:
                phase = asyncio.run(drive(url, key, args.concurrency, args.requests, args.warmup))
            finally:
                process.send_signal(signal.SIGTERM)
                process.wait(60)
            answered += phase.requests + args.warmup
            print(
                f"{workers:>7} {phase.throughput:>8.0f} {phase.percentile_ms(50):>8.1f} "
                f"{phase.percentile_ms(99):>8.1f} {phase.errors:>6}"
                + (f"  first error: {phase.first_error}" if phase.first_error else "")
            )
        rows = ledger_rows(database_url)
        print(f"ledger rows by status: {rows} (answered {answered})")
    finally:
        mock.stop()
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
