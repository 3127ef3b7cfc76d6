"""The usage ledger stores each entry once, even when the flush writing it is cancelled mid-write."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select

from broker.llm.ledger import LedgerWriter, UsageEntry
from broker.store.db import make_engine, make_sessionmaker
from broker.store.models import Base, LlmUsageRecord
from tests.threads import cancel_a_flush_mid_write


def entry(n: int) -> UsageEntry:
    return UsageEntry(
        ts=datetime.now(UTC), request_id=f"req-{n}", agent="bot", team=None, endpoint="chat",
        model="fast", provider="mock", upstream_model="mock-1", stream=False, status="ok",
        http_status=200, prompt_tokens=1, completion_tokens=10, cached_tokens=0, estimated=False,
        cost_usd=0.0, latency_ms=1.0, ttft_ms=None, attempts=1, error=None,
    )  # fmt: skip


async def test_a_flush_cancelled_while_its_batch_is_written_stores_it_once(tmp_path: Path) -> None:
    """A caller that gives up while the worker thread writes (a shutdown, a request that left)
    must not leave the batch queued: the thread commits it, and closing would store it again."""
    engine = make_engine(f"sqlite:///{tmp_path / 'ledger.db'}")
    Base.metadata.create_all(engine, tables=[LlmUsageRecord.__table__])  # type: ignore[list-item]
    writer = LedgerWriter(make_sessionmaker(engine), batch_size=100, flush_seconds=60, queue_limit=1000)
    writer.start()
    for n in range(3):
        writer.record(entry(n))
    await cancel_a_flush_mid_write(writer)
    with engine.connect() as connection:
        query = select(LlmUsageRecord.request_id, func.count()).group_by(LlmUsageRecord.request_id)
        assert sorted(connection.execute(query).all()) == [("req-0", 1), ("req-1", 1), ("req-2", 1)]
    assert writer.written == 3
    engine.dispose()
