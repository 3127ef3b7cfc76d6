"""CPU-heavy work in a pool of worker processes, so the event loop keeps its turn.

A worker thread is not enough for big documents: pydantic and the JSON parser hold the GIL
for a whole call, and the megabytes of objects an import allocates make Python's (not
incremental) collector walk the heap with the GIL held, hundreds of milliseconds at a time.
In another process neither reaches the loop. What crosses the boundary is small: bytes in,
a compact picklable result out (the prepared config as JSON text, names, warnings).

The pool is created on first use (the first big document waits ~1 s for its workers; none run
for a gateway that never gets one) with the `spawn` start method (safe with the loop's threads
and open sockets), bounded in workers and in jobs waiting, and kept for the life of the
process (`shutdown` at the gateway's end).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import threading
import time
import weakref
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import ParamSpec, TypeVar

from broker.errors import NotConfigured

P = ParamSpec("P")
T = TypeVar("T")

MAX_WORKERS = max(1, min(2, (os.cpu_count() or 1)))
WORKER_NICENESS = 10
MIN_BYTES = 256 * 1024
"""Smaller inputs are handled in a worker thread: a process hop costs more than they do."""
MAX_WAITING = 8
"""Jobs past this many wait on the loop (their inputs are request bodies: memory stays bounded)."""

_pool: ProcessPoolExecutor | None = None
finished = 0
"""Jobs run to the end (an answer or an error) since the process started."""
_slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = weakref.WeakKeyDictionary()


def _executor() -> ProcessPoolExecutor:
    global _pool
    if _pool is None:
        _pool = ProcessPoolExecutor(
            MAX_WORKERS, mp_context=multiprocessing.get_context("spawn"), initializer=_start_worker
        )
    return _pool


def _start_worker() -> None:
    """In each worker: a lower priority, so that on a busy machine the gateway's event loop
    gets the CPU before a document being prepared; and an end with the gateway, however it
    ends (a killed gateway runs no exit handler, and its idle workers would wait forever)."""
    os.nice(WORKER_NICENESS)
    threading.Thread(target=_exit_with, args=(os.getppid(),), daemon=True, name="exit-with-parent").start()


def _exit_with(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(1)
    os._exit(0)


def shutdown() -> None:
    """Stop the workers and release the pool's queues (at the gateway's end: a pool left to
    the interpreter's exit leaks its semaphores, which multiprocessing reports on stderr)."""
    global _pool
    pool, _pool = _pool, None
    if pool is not None:
        pool.shutdown(wait=True, cancel_futures=True)


async def by_size(size: int, function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """`function(*args, **kwargs)` off the loop: in a worker process when its input is `size`
    bytes of at least MIN_BYTES, else in a worker thread."""
    if size >= MIN_BYTES:
        return await in_process(function, *args, **kwargs)
    return await asyncio.to_thread(function, *args, **kwargs)


async def maybe_in_thread(off_loop: bool, function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """`function(*args, **kwargs)` here, or in a worker thread when `off_loop` (a large input)."""
    if off_loop:
        return await asyncio.to_thread(function, *args, **kwargs)
    return function(*args, **kwargs)


async def in_process(function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """`function(*args, **kwargs)` in a worker process (a module-level function; arguments and
    result picklable). Exceptions it raises are raised here."""
    global _pool, finished
    slots = _slots.setdefault(asyncio.get_running_loop(), asyncio.Semaphore(MAX_WORKERS + MAX_WAITING))
    async with slots:
        future = _executor().submit(function, *args, **kwargs)
        try:
            result = await asyncio.wrap_future(future)
        except BrokenProcessPool:  # a worker died (killed, out of memory): the next job gets a new pool
            broken, _pool = _pool, None
            if broken is not None:
                broken.shutdown(wait=False, cancel_futures=True)
            raise NotConfigured(
                "the worker process preparing this document stopped unexpectedly; try again, and "
                "check the gateway's memory limit if it happens again"
            ) from None
        except BaseException:
            finished += future.done()
            raise
        finished += 1
        return result
