from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

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
