"""Stopping a background task swallows its own cancellation, never one aimed at the caller."""

from __future__ import annotations

import asyncio

import pytest

from broker.tasks import cancel_and_wait


async def _forever() -> None:
    await asyncio.Event().wait()


async def test_the_tasks_own_cancellation_is_swallowed() -> None:
    tasks = [asyncio.create_task(_forever()) for _ in range(3)]
    await asyncio.sleep(0)
    await cancel_and_wait(*tasks)  # returns: no CancelledError here
    assert all(task.cancelled() for task in tasks)


async def test_a_cancel_of_the_caller_while_it_waits_reaches_the_caller() -> None:
    told, release = asyncio.Event(), asyncio.Event()

    async def slow_to_stop() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            told.set()
            await release.wait()  # cleaning up: the caller waits meanwhile
            raise

    task = asyncio.create_task(slow_to_stop())
    await asyncio.sleep(0)
    caller = asyncio.create_task(cancel_and_wait(task))
    await told.wait()
    caller.cancel()
    release.set()
    await asyncio.wait({caller})
    assert caller.cancelled()
    assert task.cancelled()


async def test_a_caller_already_cancelled_still_waits_out_the_stop() -> None:
    """close() in a `finally` after the caller's own cancel runs to its end, then the cancel
    goes on: only a cancel arriving while it waits cuts it short."""
    task = asyncio.create_task(_forever())
    closed: list[bool] = []

    async def serve() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            await cancel_and_wait(task)
            closed.append(True)

    server = asyncio.create_task(serve())
    await asyncio.sleep(0)
    server.cancel()
    await asyncio.wait({server})
    assert server.cancelled() and closed == [True] and task.cancelled()


async def test_a_task_that_had_failed_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    async def fail() -> None:
        raise ValueError("broken")

    task = asyncio.create_task(fail(), name="broker-test-failing")
    await asyncio.sleep(0)
    await cancel_and_wait(task)
    [record] = [r for r in caplog.records if r.name == "broker"]
    assert "broker-test-failing" in record.getMessage()
    assert record.exc_info is not None and isinstance(record.exc_info[1], ValueError)
