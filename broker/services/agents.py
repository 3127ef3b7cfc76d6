"""Agents and their API keys."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from broker import keys
from broker.errors import Conflict, NotFound
from broker.services.revision import bump, now
from broker.store.models import Agent, ApiKey


@dataclass(frozen=True, slots=True)
class IssuedKey:
    """A freshly created key: the only moment its clear text exists."""

    record: ApiKey
    key: str


def list_agents(session: Session) -> list[Agent]:
    return list(session.scalars(select(Agent).order_by(Agent.name)))


def get_agent(session: Session, name: str) -> Agent:
    agent = session.scalar(select(Agent).where(Agent.name == name))
    if agent is None:
        raise NotFound(f"no agent named '{name}'; `broker agents list` shows the agents")
    return agent


def create_agent(session: Session, name: str, team: str | None = None, description: str = "") -> Agent:
    if session.scalar(select(Agent.id).where(Agent.name == name)) is not None:
        raise Conflict(f"an agent named '{name}' already exists")
    agent = Agent(
        id=str(uuid.uuid4()), name=name, team=team, description=description, enabled=True, created_at=now()
    )
    session.add(agent)
    try:
        session.flush()
    except IntegrityError as exc:  # a concurrent create won the race
        raise Conflict(f"an agent named '{name}' already exists") from exc
    bump(session)
    return agent


def update_agent(
    session: Session,
    name: str,
    *,
    team: str | None = None,
    clear_team: bool = False,
    description: str | None = None,
    enabled: bool | None = None,
) -> Agent:
    agent = get_agent(session, name)
    before = (agent.team, agent.description, agent.enabled)
    if clear_team:
        agent.team = None
    elif team is not None:
        agent.team = team
    if description is not None:
        agent.description = description
    if enabled is not None:
        agent.enabled = enabled
    if (agent.team, agent.description, agent.enabled) != before:  # no change, no reload everywhere
        bump(session)
    return agent


def delete_agent(session: Session, name: str) -> None:
    session.delete(get_agent(session, name))
    bump(session)


def create_key(
    session: Session, agent_name: str, label: str = "", expires_at: datetime | None = None
) -> IssuedKey:
    agent = get_agent(session, agent_name)
    clear = keys.new_key()
    record = ApiKey(
        id=str(uuid.uuid4()),
        agent_id=agent.id,
        key_hash=keys.hash_key(clear),
        prefix=keys.display_prefix(clear),
        label=label,
        created_at=now(),
        expires_at=expires_at,
    )
    session.add(record)
    bump(session)
    return IssuedKey(record=record, key=clear)


def list_keys(session: Session, agent_name: str) -> list[ApiKey]:
    agent = get_agent(session, agent_name)
    return list(
        session.scalars(select(ApiKey).where(ApiKey.agent_id == agent.id).order_by(ApiKey.created_at))
    )


def get_key(session: Session, agent_name: str, key_id: str) -> ApiKey:
    agent = get_agent(session, agent_name)
    record = session.scalar(
        select(ApiKey).where(ApiKey.agent_id == agent.id, (ApiKey.id == key_id) | (ApiKey.prefix == key_id))
    )
    if record is None:
        raise NotFound(
            f"agent '{agent_name}' has no key '{key_id}'; `broker keys list {agent_name}` shows its keys"
        )
    return record


def revoke_key(session: Session, agent_name: str, key_id: str) -> ApiKey:
    record = get_key(session, agent_name, key_id)
    if record.revoked_at is None:
        record.revoked_at = now()
        bump(session)
    return record


def rotate_key(session: Session, agent_name: str, key_id: str, grace_seconds: int = 0) -> IssuedKey:
    """Issue a new key with the old one's label; the old key stops working after the grace period."""
    old = get_key(session, agent_name, key_id)
    if old.revoked_at is not None:
        raise Conflict(f"key '{old.prefix}' is already revoked; create a new key instead")
    issued = create_key(session, agent_name, label=old.label, expires_at=old.expires_at)
    if grace_seconds > 0:
        cutoff = now() + timedelta(seconds=grace_seconds)
        old.expires_at = min(old.expires_at, cutoff) if old.expires_at else cutoff
    else:
        old.revoked_at = now()
    return issued
