"""Stopping background tasks without swallowing a cancel aimed at whoever stops them."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

log = logging.getLogger("broker")


async def cancel_and_wait(*tasks: asyncio.Future[Any]) -> None:
    """Cancel `tasks` and wait until each has ended; their own cancellation is not an error.

    A cancel of the caller meanwhile (a shutdown with a deadline) still reaches it: awaiting a
    cancelled task inside `suppress(CancelledError)` cannot tell the task's cancel from the
    caller's and drops both, where `gather` raises when it was itself cancelled, even with
    `return_exceptions`. A task that had failed is logged, not raised: the caller goes on closing."""
    for task in tasks:
        task.cancel()
    ended = await asyncio.gather(*tasks, return_exceptions=True)
    for task, outcome in zip(tasks, ended, strict=True):
        if isinstance(outcome, Exception):
            name = task.get_name() if isinstance(task, asyncio.Task) else repr(task)
            log.error("background task %s had failed", name, exc_info=outcome)
