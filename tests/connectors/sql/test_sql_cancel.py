"""A cancelled call (the client cancelled or went away) cancels its statement in the database."""

from __future__ import annotations

import asyncio
import os
import threading
import time

from connectors.sql.connector import SqlConnector
from tests.connectors.sql.conftest import Database, make_config

LONG = "SELECT count(*) AS n FROM generate_series(1, 400000000) AS a"


def active(db: Database) -> int:
    """Statements of this test still running in its own database (the server is shared)."""
    found = db.scalar(
        "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND datname = current_database() "
        "AND query LIKE '%400000000%' AND query NOT LIKE '%pg_stat_activity%'"
    )
    return int(found)


async def cancel_once_running(call: asyncio.Task[object], db: Database) -> None:
    """Cancel `call` once its statement runs; return when the database no longer runs it."""
    deadline = time.monotonic() + 20
    while active(db) == 0:
        assert time.monotonic() < deadline, "the statement never started"
        await asyncio.sleep(0.1)
    call.cancel()
    deadline = time.monotonic() + 10  # far below the statement's own 120 s limit
    while active(db) > 0:
        assert time.monotonic() < deadline, "the statement still runs after the call was cancelled"
        await asyncio.sleep(0.1)


async def test_a_cancelled_call_cancels_its_postgresql_statement(postgresql_db: Database) -> None:
    config = make_config(postgresql_db, statement_timeout_seconds=120)
    async with SqlConnector(config) as connector:
        call = asyncio.create_task(connector.call("query", {"sql": LONG}))
        await cancel_once_running(call, postgresql_db)
        assert call.cancelled()


async def test_the_cancel_does_not_wait_for_a_free_worker_thread(postgresql_db: Database) -> None:
    """Every other thread of the loop's default executor busy (other calls' statements): the
    cancel request still goes out at once, not when a thread frees up."""
    config = make_config(postgresql_db, statement_timeout_seconds=120)
    release = threading.Event()
    loop = asyncio.get_running_loop()
    threads = min(32, (os.cpu_count() or 1) + 4)  # the default executor's size
    busy = [loop.run_in_executor(None, release.wait, 30) for _ in range(threads - 1)]
    try:
        async with SqlConnector(config) as connector:
            call = asyncio.create_task(connector.call("query", {"sql": LONG}))
            await cancel_once_running(call, postgresql_db)
    finally:
        release.set()
        await asyncio.gather(*busy)
