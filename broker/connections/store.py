"""The rows of per-user connections and pending authorization requests (synchronous: the
service runs these in a worker thread)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from broker.services.revision import bump
from broker.store.models import ConnectState, UserConnection


def state_hash(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


def aware(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; every stored time is UTC."""
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


@dataclass(frozen=True, slots=True)
class Pending:
    connector: str
    end_user: str
    agent: str
    ciphertext: bytes
    expires_at: datetime


def add_state(session: Session, digest: str, pending: Pending) -> None:
    now = datetime.now(UTC)
    session.execute(delete(ConnectState).where(ConnectState.expires_at < now))  # keep the table small
    session.add(
        ConnectState(
            state_hash=digest,
            connector=pending.connector,
            end_user=pending.end_user,
            agent=pending.agent,
            ciphertext=pending.ciphertext,
            expires_at=pending.expires_at,
        )
    )


def take_state(session: Session, digest: str) -> Pending | None:
    """The pending request of this state, removed: a second use (or a concurrent one) finds none."""
    row = session.get(ConnectState, digest)
    if row is None:
        return None
    pending = Pending(
        row.connector, row.end_user, row.agent, row.ciphertext, aware(row.expires_at) or row.expires_at
    )
    taken = session.execute(delete(ConnectState).where(ConnectState.state_hash == digest))
    return pending if getattr(taken, "rowcount", 0) == 1 else None


def read_connection(session: Session, connector: str, end_user: str) -> UserConnection | None:
    return session.get(UserConnection, (connector, end_user))


def save_connection(
    session: Session,
    *,
    connector: str,
    end_user: str,
    agent: str | None,
    scopes: str,
    ciphertext: bytes | None,
    expires_at: datetime | None,
    status: str = "connected",
) -> None:
    now = datetime.now(UTC)
    row = session.get(UserConnection, (connector, end_user))
    if row is None:
        row = UserConnection(connector=connector, end_user=end_user, agent=agent or "", created_at=now)
        session.add(row)
    if agent is not None:
        row.agent = agent
    row.status, row.scopes, row.ciphertext = status, scopes, ciphertext
    row.expires_at, row.updated_at = expires_at, now


def disconnect(session: Session, connector: str, end_user: str) -> None:
    row = session.get(UserConnection, (connector, end_user))
    if row is not None:
        row.status, row.ciphertext, row.updated_at = "disconnected", None, datetime.now(UTC)


def remove_connection(session: Session, connector: str, end_user: str) -> bool:
    """Forget the grant; bumps the state revision so every instance drops its copy at once."""
    gone = session.execute(
        delete(UserConnection).where(
            UserConnection.connector == connector, UserConnection.end_user == end_user
        )
    )
    if getattr(gone, "rowcount", 0) != 1:
        return False
    bump(session)
    return True


def list_connections(
    session: Session, connector: str | None = None, end_user: str | None = None
) -> list[UserConnection]:
    query = select(UserConnection).order_by(UserConnection.connector, UserConnection.end_user)
    if connector is not None:
        query = query.where(UserConnection.connector == connector)
    if end_user is not None:
        query = query.where(UserConnection.end_user == end_user)
    return list(session.scalars(query))


def expiry(seconds: float) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)
