"""Registered connectors. Configs arrive prepared (no network needed to rebuild them)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, cast

from sqlalchemy import Text, select, type_coerce
from sqlalchemy.orm import Session, defer

from broker.errors import Conflict, NotFound
from broker.services.revision import bump, now
from broker.store.db import JsonText
from broker.store.models import ConnectorRecord


@dataclass(frozen=True, slots=True)
class ConnectorHead:
    """What a listing shows of a stored connector: not its config, which may be megabytes."""

    name: str
    kind: str
    description: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, record: ConnectorRecord) -> ConnectorHead:
        description = record.config.get("description") if isinstance(record.config, dict) else None
        return cls(record.name, record.kind, str(description or ""), record.created_at, record.updated_at)


def list_connectors(session: Session) -> list[ConnectorHead]:
    """Every connector's head, the description read by the database from the stored JSON."""
    rows = session.execute(
        select(
            ConnectorRecord.name,
            ConnectorRecord.kind,
            ConnectorRecord.config["description"].as_string(),
            ConnectorRecord.created_at,
            ConnectorRecord.updated_at,
        ).order_by(ConnectorRecord.name)
    )
    return [
        ConnectorHead(name, kind, description or "", created, updated)
        for name, kind, description, created, updated in rows
    ]


def get_connector(session: Session, name: str) -> ConnectorRecord:
    record = session.get(ConnectorRecord, name)
    if record is None:
        raise NotFound(f"no connector named '{name}'; `broker connectors list` shows them")
    return record


def stored_configs(session: Session, names: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The stored configs of those of `names` that are registered."""
    wanted = set(names)
    if not wanted:
        return {}
    rows = session.scalars(select(ConnectorRecord).where(ConnectorRecord.name.in_(wanted)))
    return {record.name: record.config for record in rows}


PutResult = Literal["created", "updated", "unchanged"]


def put_connector(
    session: Session, name: str, kind: str, config: dict[str, Any] | JsonText, *, replace: bool
) -> PutResult:
    """Store a connector; returns "created", "updated" or "unchanged". A `JsonText` config
    (prepared in a worker process) is compared as stored text, never parsed here."""
    record = session.get(ConnectorRecord, name, options=[defer(ConnectorRecord.config)])
    if record is None:
        session.add(ConnectorRecord(name=name, kind=kind, config=config, created_at=now(), updated_at=now()))
        bump(session)
        return "created"
    if not replace:
        raise Conflict(f"a connector named '{name}' already exists; use replace to update it")
    if record.kind == kind and _stored_as(session, name, config):
        return "unchanged"
    record.kind, record.config, record.updated_at = kind, cast(dict[str, Any], config), now()
    bump(session)
    return "updated"


def delete_connector(session: Session, name: str) -> None:
    session.delete(get_connector(session, name))
    bump(session)


def _stored_as(session: Session, name: str, config: dict[str, Any] | JsonText) -> bool:
    if not isinstance(config, JsonText):
        return get_connector(session, name).config == config
    text = session.scalar(
        select(type_coerce(ConnectorRecord.config, Text)).where(ConnectorRecord.name == name)
    )
    return text == config
