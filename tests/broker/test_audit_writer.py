"""The audit writer keeps every record: batched off the request path, drained on shutdown,
held and retried while the database is unavailable."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Text, cast, func, select
from sqlalchemy.orm import Session, sessionmaker

from broker.audit.rows import RowWriter
from broker.audit.writer import AuditEntry, AuditWriter
from broker.metrics import Metrics
from broker.store.db import make_engine, make_sessionmaker
from broker.store.migrate import upgrade
from broker.store.models import AuditRecord
from tests.threads import cancel_a_flush_mid_write


def entry(n: int) -> AuditEntry:
    return AuditEntry(
        ts=datetime.now(UTC),
        request_id=f"req-{n}",
        agent="bot",
        team=None,
        tool="weather.current",
        decision="allow",
        reason="granted",
        outcome="ok",
        error=None,
        latency_ms=1.0,
        arguments_hash=None,
        argument_names=["city"],
        policy_revision=1,
    )


def count(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(AuditRecord)) or 0


def writer_for(sessions: sessionmaker[Session], metrics: Metrics) -> AuditWriter:
    return AuditWriter(sessions, metrics, batch_size=100, flush_seconds=0.05, queue_limit=10_000)


async def test_records_are_written_in_batches_and_drained_on_shutdown(database_url: str) -> None:
    upgrade(database_url)
    sessions = make_sessionmaker(make_engine(database_url))
    metrics = Metrics()
    writer = writer_for(sessions, metrics)
    writer.start()
    for n in range(2500):
        await writer.record(entry(n))
    await writer.close()  # immediately: most records are still queued
    assert count(sessions) == 2500
    with sessions() as session:
        ids = set(session.scalars(select(AuditRecord.request_id)))
    assert ids == {f"req-{n}" for n in range(2500)}


async def test_a_flush_cancelled_while_its_batch_is_written_stores_it_once(tmp_path: Path) -> None:
    """An admin `flush` whose request goes away while the worker thread writes: the thread
    commits the batch, which must leave the queue, or closing would store it again."""
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    upgrade(url)
    sessions = make_sessionmaker(make_engine(url))
    writer = AuditWriter(sessions, Metrics(), batch_size=100, flush_seconds=60, queue_limit=1000)
    writer.start()
    for n in range(3):
        await writer.record(entry(n))
    await cancel_a_flush_mid_write(writer)
    with sessions() as session:
        stored = session.execute(
            select(AuditRecord.request_id, func.count()).group_by(AuditRecord.request_id)
        )
        assert sorted(stored.all()) == [("req-0", 1), ("req-1", 1), ("req-2", 1)]


async def test_records_wait_for_the_database_to_come_back(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'later' / 'audit.db'}"  # the folder does not exist yet
    sessions = make_sessionmaker(make_engine(url))
    metrics = Metrics()
    writer = writer_for(sessions, metrics)
    writer.start()
    for n in range(10):
        await writer.record(entry(n))
    await asyncio.sleep(0.3)
    assert (metrics.registry.get_sample_value("broker_audit_write_errors_total") or 0) >= 1  # it tried

    (tmp_path / "later").mkdir()
    upgrade(url)
    await writer.close()
    assert count(sessions) == 10


async def test_every_field_reads_back_as_written(database_url: str) -> None:
    """The driver-level insert stores what the ORM reads: timestamps, JSON columns, nulls."""
    upgrade(database_url)
    sessions = make_sessionmaker(make_engine(database_url))
    writer = writer_for(sessions, Metrics())
    writer.start()
    ts = datetime(2026, 12, 6, 7, 0, 1, 123456, tzinfo=UTC)
    full = entry(1)._replace(
        ts=ts,
        team="ops",
        error="upstream timed out",
        arguments_hash="ab" * 32,
        masked={"EMAIL_ADDRESS": 2},
        cache="hit",
        end_user="user-7",
        flags={"injection": {"score": 0.9, "signals": ["override"]}},
        trace_id="0" * 32,
        operation="resources/read",
    )
    await writer.record(full)
    await writer.record(entry(2))
    await writer.close()
    with sessions() as session:
        rows = {row.request_id: row for row in session.scalars(select(AuditRecord))}
    stored = rows["req-1"]
    assert stored.ts.replace(tzinfo=UTC) == ts
    assert (stored.team, stored.error, stored.arguments_hash) == ("ops", "upstream timed out", "ab" * 32)
    assert (stored.masked, stored.cache, stored.end_user) == ({"EMAIL_ADDRESS": 2}, "hit", "user-7")
    assert stored.flags == {"injection": {"score": 0.9, "signals": ["override"]}}
    assert (stored.trace_id, stored.operation) == ("0" * 32, "resources/read")
    assert stored.argument_names == ["city"]
    plain = rows["req-2"]
    assert (plain.masked, plain.flags, plain.team, plain.operation) == (None, None, None, "tools/call")


def test_the_driver_insert_stores_the_text_sqlalchemy_would(database_url: str) -> None:
    """Byte for byte, as a Core insert through SQLAlchemy's own bind processors stores it: the
    writer's quicker timestamp text and remembered JSON texts change nothing."""
    upgrade(database_url)
    engine = make_engine(database_url)
    values = [
        (datetime(2026, 12, 6, 7, 0, 1, 123456, tzinfo=UTC), ["city"], {"EMAIL_ADDRESS": 2}),
        (datetime(2026, 12, 6, 7, 0, 1, tzinfo=UTC), ["city"], {"EMAIL_ADDRESS": 2}),  # repeats: remembered
        (datetime(2026, 1, 1, tzinfo=UTC), ["é", 'b"q'], {"A": 1, "B": 10}),
        (datetime(2026, 1, 1, 0, 0, 0, 1, tzinfo=UTC), [], {"A": True}),  # True is not 1 in JSON
        (datetime(2026, 1, 1, tzinfo=UTC), [1, "x"], {"A": 1.0}),
        (datetime(2026, 1, 1, tzinfo=UTC), ["x"], {"nested": {"A": 1}}),
    ]
    entries = [
        entry(n)._replace(ts=ts, argument_names=names, masked=masked, flags={"injection": {"score": 0.5}})
        for n, (ts, names, masked) in enumerate(values)
    ]
    table = AuditRecord.__table__
    with engine.begin() as connection:
        RowWriter(connection.dialect).insert(connection, entries)
        connection.execute(
            table.insert(), [e._replace(request_id=f"orm-{e.request_id}")._asdict() for e in entries]
        )
    text = [cast(table.c[name], Text) for name in ("ts", "argument_names", "masked", "flags", "latency_ms")]
    with engine.connect() as connection:
        rows = {row[0]: row[1:] for row in connection.execute(select(table.c.request_id, *text))}
    engine.dispose()
    for n in range(len(values)):
        assert rows[f"req-{n}"] == rows[f"orm-req-{n}"]
