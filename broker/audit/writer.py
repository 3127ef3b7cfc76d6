"""Stores audit records in batches, off the request path.

A call only appends to an in-memory queue; a background task writes batches in a worker
thread. On shutdown the queue is drained, so no record is lost. When the database is down
the batch is kept and retried; when the queue is full, calls wait (back-pressure) rather
than drop records.
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy.orm import Session, sessionmaker

from broker.audit.rows import AuditEntry, RowWriter
from broker.metrics import Metrics
from broker.tasks import cancel_and_wait

__all__ = ["AuditEntry", "AuditWriter"]

log = logging.getLogger("broker.audit")


class AuditWriter:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        metrics: Metrics,
        *,
        batch_size: int,
        flush_seconds: float,
        queue_limit: int,
    ) -> None:
        self._sessions = sessions
        self._metrics = metrics
        self._batch_size = batch_size
        self._flush_seconds = flush_seconds
        self._queue: asyncio.Queue[AuditEntry] = asyncio.Queue(maxsize=queue_limit)
        self._task: asyncio.Task[None] | None = None
        self._pending: list[AuditEntry] = []
        self._rows: RowWriter | None = None  # made for the dialect at the first write
        self._flush_lock = asyncio.Lock()  # one batch in flight, whoever asks for it

    async def record(self, entry: AuditEntry) -> None:
        try:
            self._queue.put_nowait(entry)
        except asyncio.QueueFull:
            await self._queue.put(entry)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="broker-audit-writer")

    async def close(self) -> None:
        """Stop the background task and write everything still queued."""
        if self._task is not None:
            await cancel_and_wait(self._task)
            self._task = None
        self._take_all()  # a batch still being written leaves the queue before the drain's first
        while self._pending:
            if not await self._flush():
                log.error("audit database unavailable at shutdown; %d records not stored", len(self._pending))
                return

    async def flush(self) -> None:
        """Write what is queued now (used by the admin API so `audit tail` sees fresh records)."""
        self._take_all()
        while self._pending and await self._flush():
            pass

    async def _run(self) -> None:
        backoff = self._flush_seconds
        while True:
            if not self._pending:
                self._pending.append(await self._queue.get())
            await asyncio.sleep(self._flush_seconds if self._queue.qsize() < self._batch_size else 0)
            self._take_all()
            if await self._flush():
                backoff = self._flush_seconds
            else:
                backoff = min(backoff * 2, 30.0)
                await asyncio.sleep(backoff)

    def _take_all(self) -> None:
        while not self._queue.empty():
            self._pending.append(self._queue.get_nowait())

    async def _flush(self) -> bool:
        """Write the next batch, in a task a cancelled caller does not stop (as the usage
        ledger's, broker/llm/ledger.py): the worker thread commits the batch anyway, and it
        must leave the queue, or the next flush stores it a second time. The background task
        is stopped at shutdown; an admin `flush` can be cancelled by its request."""
        return await asyncio.shield(self._write_next())

    async def _write_next(self) -> bool:
        async with self._flush_lock:
            batch = self._pending[: self._batch_size * 4]
            if not batch:
                return True
            try:
                await asyncio.to_thread(self._write, batch)
            except Exception:
                self._metrics.audit_write_errors.inc()
                log.exception("could not store %d audit records; will retry", len(batch))
                return False
            del self._pending[: len(batch)]
            self._metrics.audit_written.inc(len(batch))
            return True

    def _write(self, batch: list[AuditEntry]) -> None:
        with self._sessions.begin() as session:
            connection = session.connection()
            if self._rows is None:
                self._rows = RowWriter(connection.dialect)
            self._rows.insert(connection, batch)
