"""Audit-path benchmark: CPU per call of Audit + ValidateArguments + a Cache hit, in this process.

Run it from the project root:

    .venv/bin/python bench/audit_stage.py                    # SQLite file in a temp dir
    .venv/bin/python bench/audit_stage.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/DB

The stages run in front of the Cache stage of bench/cache.py (real planner and in-process store,
~1 KB result) with the real AuditWriter storing every record; the figure is the process's CPU
time (event loop and writer thread together) per call, the writer's final drain included, so
the cost of building, queueing and inserting an audit record is all in it. No HTTP, no MCP.
The PostgreSQL database given must exist; it is migrated and its audit rows from this run are
deleted at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.cache import stage_fixture
from broker.audit.writer import AuditWriter
from broker.metrics import Metrics
from broker.pipeline.audit import Audit
from broker.pipeline.validate import ValidateArguments
from broker.store.db import make_engine, make_sessionmaker
from broker.store.migrate import upgrade
from broker.store.models import AuditRecord

REQUEST_ID = "bench-audit-stage"


async def run(calls: int, url: str) -> float:
    upgrade(url)
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    metrics = Metrics()
    writer = AuditWriter(sessions, metrics, batch_size=500, flush_seconds=0.5, queue_limit=100_000)
    writer.start()
    audit = Audit(writer, metrics, b"bench-key" * 4)
    validate = ValidateArguments()
    cache, make_call, terminal = stage_fixture(None)

    async def inner(call: Any) -> Any:
        return await validate(call, lambda c: cache.stage(c, terminal))

    def call() -> Any:
        made = make_call({"city": "Paris", "nonce": "same"})
        made.request_id = REQUEST_ID
        return made

    try:
        for _ in range(2000):  # warm-up: the interpreter, memos, the cached entry
            await audit(call(), inner)
        await writer.flush()
        started = time.process_time()
        for n in range(calls):
            await audit(call(), inner)
            if n % 50 == 0:
                await asyncio.sleep(0)  # let the writer take its batches, as a server would
        await writer.close()
        return (time.process_time() - started) / calls
    finally:
        await cache.close()
        with sessions.begin() as session:
            session.query(AuditRecord).filter(AuditRecord.request_id == REQUEST_ID).delete()
        engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--calls", type=int, default=20_000, help="measured calls")
    parser.add_argument("--database-url", help="an existing database (default: a fresh SQLite file)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        url = args.database_url or f"sqlite:///{Path(folder) / 'audit.db'}"
        cpu = asyncio.run(run(args.calls, url))
    print(
        f"{args.calls} calls: {cpu * 1e6:.1f} µs CPU per call (Audit, ValidateArguments, cache hit, insert)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
