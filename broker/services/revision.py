from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from broker.cluster import Notices
from broker.store.models import StateRevision


def bump(session: Session) -> None:
    """Mark the stored state as changed; instances reload when they see a new revision."""
    session.execute(
        update(StateRevision).where(StateRevision.id == 1).values(revision=StateRevision.revision + 1)
    )


def current(session: Session) -> int:
    return session.scalar(select(StateRevision.revision).where(StateRevision.id == 1)) or 0


def now() -> datetime:
    return datetime.now(UTC)


async def follow(
    sessions: sessionmaker[Session],
    every: float,
    known: Callable[[], int | None],
    refresh: Callable[[], Awaitable[object]],
    log: logging.Logger,
    what: str,
    notices: Notices | None = None,
) -> None:
    """Refresh whenever the stored revision differs from the `known` one, checking `every`
    seconds and whenever `notices` announces a revision (another instance changed something);
    a failed check keeps the last good state and tries again next time."""

    def read() -> int:
        with sessions() as session:
            return current(session)

    while True:
        if notices is None:
            await asyncio.sleep(every)
        else:
            woken, announced = await notices.wait(every)
            if woken and announced is not None and announced == known():
                continue  # our own change, or one we already have
        try:
            if await asyncio.to_thread(read) != known():
                await refresh()
        except (OperationalError, InterfaceError) as exc:  # one line per check, not a traceback
            reason = (str(exc.orig or exc).strip().splitlines() or [""])[0][:300]
            log.warning("could not refresh %s: the database is unreachable (%s)", what, reason)
        except Exception:
            log.exception("could not refresh %s from the database", what)
