"""Worker-thread pools for the loop (`loop.set_default_executor`), faked at the edge: one whose jobs
start late, a write still running when its caller is cancelled, as on a loaded machine
(tests/llm/test_ledger_writes.py, tests/broker/test_audit_writer.py), and one that counts its jobs
(tests/broker/test_audit_flags.py: what the event loop hands to a thread)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Protocol


class SlowStart(ThreadPoolExecutor):
    """The loop's executor (`loop.set_default_executor`), each job starting `delay` seconds late."""

    def __init__(self, delay: float) -> None:
        super().__init__(max_workers=4)
        self._delay = delay

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        def late() -> Any:
            time.sleep(self._delay)
            return fn(*args, **kwargs)

        return super().submit(late)


class CountingPool(ThreadPoolExecutor):
    """The loop's executor, counting the jobs handed to it."""

    def __init__(self) -> None:
        super().__init__(max_workers=2)
        self.jobs = 0

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        self.jobs += 1
        return super().submit(fn, *args, **kwargs)


class BatchWriter(Protocol):
    async def flush(self) -> None: ...
    async def close(self) -> None: ...


async def cancel_a_flush_mid_write(writer: BatchWriter) -> None:
    """With the loop's jobs starting 0.5 s late: a `flush` cancelled once its write is handed to a
    worker thread (which goes on and commits), then `close`, which drains what is still queued."""
    asyncio.get_running_loop().set_default_executor(SlowStart(0.5))
    flushing = asyncio.create_task(writer.flush())
    await asyncio.sleep(0.1)
    flushing.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await flushing
    await writer.close()
