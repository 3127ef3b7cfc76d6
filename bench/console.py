"""Console aggregates benchmark: how long the console's SQL takes over a large audit log and ledger.

Run it from the project root:

    .venv/bin/python bench/console.py                        # SQLite, 200,000 rows of each
    .venv/bin/python bench/console.py --rows 1000000
    .venv/bin/python bench/console.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test

It fills a fresh database (a SQLite file in a temp dir, or a scratch PostgreSQL database created
and dropped on the given server) with audit records and ledger rows spread over 30 days, 20 agents,
40 tools and 6 models (a third of the audit records with masked entities), then times what the
console's pages ask for: /admin/audit/summary by tool, by agent and by hour over 7 days, and
/admin/llm/usage by hour and agent over 24 hours and by day and team over 30 days. Figures are the
median of 5 runs, in ms, of the report functions the endpoints call (no HTTP). The machine is shared
and noisy: compare runs made together.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from sqlalchemy import insert

from broker.audit.reports import AuditFilter, audit_summary
from broker.llm.reports import usage_report
from broker.store.db import make_engine, make_sessionmaker
from broker.store.migrate import upgrade
from broker.store.models import AuditRecord, LlmUsageRecord

OUTCOMES = ["ok"] * 8 + ["denied", "upstream_error"]
CACHE = ["hit", "miss", "miss", None]


def fill(url: str, rows: int) -> None:
    upgrade(url)
    engine = make_engine(url)
    now = datetime.now(UTC)
    rng = random.Random(7)
    with engine.begin() as connection:
        for start in range(0, rows, 10_000):
            audit, usage = [], []
            for _ in range(min(10_000, rows - start)):
                ts = now - timedelta(seconds=rng.uniform(0, 30 * 86400))
                outcome = rng.choice(OUTCOMES)
                audit.append(
                    {
                        "ts": ts,
                        "request_id": "r",
                        "agent": f"agent-{rng.randrange(20)}",
                        "team": "t",
                        "tool": f"tool.{rng.randrange(40)}",
                        "decision": "deny" if outcome == "denied" else "allow",
                        "reason": "",
                        "outcome": outcome,
                        "error": None,
                        "latency_ms": rng.uniform(1, 50),
                        "arguments_hash": None,
                        "argument_names": [],
                        "policy_revision": 1,
                        "masked": {"EMAIL_ADDRESS": rng.randrange(1, 4)} if rng.random() < 0.33 else None,
                        "cache": rng.choice(CACHE),
                    }
                )
                usage.append(
                    {
                        "ts": ts,
                        "request_id": "r",
                        "agent": f"agent-{rng.randrange(20)}",
                        "team": f"team-{rng.randrange(5)}",
                        "endpoint": "chat",
                        "model": f"m{rng.randrange(6)}",
                        "provider": "p",
                        "upstream_model": "m",
                        "stream": False,
                        "status": "ok",
                        "http_status": 200,
                        "prompt_tokens": rng.randrange(10, 2000),
                        "completion_tokens": rng.randrange(10, 800),
                        "cached_tokens": 0,
                        "estimated": False,
                        "cost_usd": rng.uniform(0, 0.01),
                        "latency_ms": 1.0,
                        "ttft_ms": None,
                        "attempts": 1,
                        "error": None,
                    }
                )
            connection.execute(insert(AuditRecord), audit)
            connection.execute(insert(LlmUsageRecord), usage)
    engine.dispose()


def timed(run: Callable[[], object]) -> float:
    times = []
    for _ in range(5):
        started = time.perf_counter()
        run()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def measure(url: str, rows: int) -> None:
    started = time.perf_counter()
    fill(url, rows)
    print(f"filled {rows:,} audit records and {rows:,} ledger rows in {time.perf_counter() - started:.1f} s")
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    now = datetime.now(UTC)
    week = AuditFilter(since=now - timedelta(days=7))
    cases: list[tuple[str, Callable[..., object]]] = [
        ("audit summary by tool, 7 days", lambda s: audit_summary(s, ["tool"], week)),
        ("audit summary by agent, 7 days", lambda s: audit_summary(s, ["agent"], week)),
        ("audit summary by hour, 7 days", lambda s: audit_summary(s, ["hour"], week)),
        (
            "usage by hour and agent, 24 hours",
            lambda s: usage_report(s, ["hour", "agent"], since=now - timedelta(days=1)),
        ),
        (
            "usage by day and team, 30 days",
            lambda s: usage_report(s, ["day", "team"], since=now - timedelta(days=30)),
        ),
    ]
    with sessions() as session:
        for name, case in cases:
            print(f"{name:<40} {timed(lambda case=case: case(session)):8.1f} ms")
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--database-url", help="a PostgreSQL server to make a scratch database on")
    args = parser.parse_args()
    if not args.database_url:
        with tempfile.TemporaryDirectory() as folder:
            measure(f"sqlite:///{Path(folder) / 'bench.db'}", args.rows)
        return
    name = f"bench_console_{uuid.uuid4().hex[:8]}"
    server = args.database_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            measure(args.database_url.rsplit("/", 1)[0] + f"/{name}", args.rows)
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
