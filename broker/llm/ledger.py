"""The usage ledger, written in batches off the request path (as the audit log is).

A call appends its entry to an in-memory queue; a background task writes batches from a
worker thread. While the database refuses writes the batch is kept and retried, and the
writer reports itself unhealthy, so the metered path can fail closed. Shutdown drains.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from prometheus_client import Counter
from sqlalchemy import insert
from sqlalchemy.orm import Session, sessionmaker

from broker.store.models import LlmUsageRecord
from broker.tasks import cancel_and_wait

log = logging.getLogger("broker.llm.ledger")


@dataclass(frozen=True, slots=True)
class UsageEntry:
    ts: datetime
    request_id: str
    agent: str
    team: str | None
    endpoint: str
    model: str
    provider: str | None
    upstream_model: str | None
    stream: bool
    status: str
    http_status: int
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    estimated: bool
    cost_usd: float
    latency_ms: float
    ttft_ms: float | None
    attempts: int
    error: str | None
    end_user: str | None = None
    trace_id: str | None = None
    guardrails: str | None = None
    """The guardrail verdicts of the call, as JSON (rule, action, where, score): never the text."""
    cache: str | None = None
    saved_tokens: int | None = None
    saved_usd: float | None = None
    connector: str | None = None
    """A sampling request served by the gateway: the connector and tool that asked."""
    tool: str | None = None

    def row(self) -> dict[str, Any]:
        """The entry as a row to insert (dataclasses.asdict deep-copies, ten times slower)."""
        return {name: getattr(self, name) for name in _FIELDS}


_FIELDS = tuple(f.name for f in fields(UsageEntry))


class LedgerWriter:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        batch_size: int,
        flush_seconds: float,
        queue_limit: int,
        errors: Counter | None = None,
    ) -> None:
        self._sessions = sessions
        self._errors = errors
        self._batch_size = batch_size
        self._flush_seconds = flush_seconds
        self._queue_limit = queue_limit
        self._pending: list[dict[str, Any]] = []
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._failing = False
        self.written = 0
        self.write_errors = 0

    @property
    def healthy(self) -> bool:
        """False while the database refuses writes or the backlog is full."""
        return not self._failing and len(self._pending) < self._queue_limit

    def record(self, entry: UsageEntry) -> None:
        """Queue an entry; never waits (a full backlog makes the writer unhealthy instead)."""
        self._pending.append(entry.row())
        if len(self._pending) >= self._batch_size:
            self._wakeup.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="broker-llm-ledger")

    async def close(self) -> None:
        if self._task is not None:
            await cancel_and_wait(self._task)
            self._task = None
        while self._pending:
            if not await self._flush():
                log.error(
                    "ledger database unavailable at shutdown; %d entries not stored", len(self._pending)
                )
                return

    async def flush(self) -> None:
        """Write everything queued now (reports call it so fresh calls show up)."""
        while self._pending and await self._flush():
            pass

    async def _run(self) -> None:
        backoff = self._flush_seconds
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._flush_seconds):  # not wait_for: see sql_vault._run
                    await self._wakeup.wait()
            self._wakeup.clear()
            if not self._pending:
                continue
            if await self._flush():
                backoff = self._flush_seconds
            else:
                backoff = min(backoff * 2, 30.0)
                await asyncio.sleep(backoff)

    async def _flush(self) -> bool:
        """Write the next batch. The write and its bookkeeping run in a task of their own that a
        cancelled caller (the writer's task at shutdown, a budget load whose request gave up)
        does not stop: the worker thread commits the batch anyway, and it must then leave the
        queue, or the next flush (`close` draining) stores every entry of it a second time. A
        budget read after a restart then counted those calls twice (tests/llm/test_budgets.py
        saw a 429 where 22 of 30 tokens were spent, on a machine slowed enough that the stop
        came mid-write)."""
        return await asyncio.shield(self._write_next())

    async def _write_next(self) -> bool:
        async with self._lock:
            batch = self._pending[: self._batch_size * 4]
            if not batch:
                return True
            try:
                await asyncio.to_thread(self._write, batch)
            except Exception:
                self.write_errors += 1
                if self._errors is not None:
                    self._errors.inc()
                self._failing = True
                log.exception("could not store %d usage entries; will retry", len(batch))
                return False
            del self._pending[: len(batch)]
            self._failing = False
            self.written += len(batch)
            return True

    def _write(self, rows: list[dict[str, Any]]) -> None:
        with self._sessions.begin() as session:
            session.execute(insert(LlmUsageRecord), rows)
