"""Reading the audit log: tool calls, denials, cache answers, masking and upstream errors,
counted in the database by tool, agent, outcome or time bucket."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import ColumnElement, Integer, Select, and_, case, cast, func, select, true
from sqlalchemy.orm import Session

from broker.store.buckets import time_bucket
from broker.store.models import AuditRecord as A

AuditGroup = Literal["tool", "agent", "user", "team", "outcome", "hour", "day"]
CACHE_SERVED = ("hit", "coalesced")
"""Cache answers that spared the upstream a call; with `miss` they make the lookups."""


@dataclass(frozen=True, slots=True)
class AuditFilter:
    since: datetime | None = None
    until: datetime | None = None
    agent: str | None = None
    tool: str | None = None

    def apply(self, query: Select[Any]) -> Select[Any]:
        for column, value in ((A.agent, self.agent), (A.tool, self.tool)):
            if value is not None:
                query = query.where(column == value)
        if self.since is not None:
            query = query.where(A.ts >= self.since)
        if self.until is not None:
            query = query.where(A.ts < self.until)
        return query


@dataclass(frozen=True, slots=True)
class AuditLine:
    group: dict[str, str | None]
    calls: int
    ok: int
    denied: int
    """Refused by policy (decision deny): hidden or unknown tools, refused arguments."""
    upstream_errors: int
    other_errors: int
    cache_hits: int
    cache_lookups: int
    masked: dict[str, int]
    """Entities masked in results, by type."""
    latency_ms_avg: float


def _column(name: AuditGroup, dialect: str) -> ColumnElement[Any]:
    if name in ("hour", "day"):
        return time_bucket(A.ts, name, dialect)
    column: ColumnElement[Any] = getattr(A, "end_user" if name == "user" else name)
    return column


def _count(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def audit_summary(session: Session, group_by: list[AuditGroup], where: AuditFilter) -> list[AuditLine]:
    dialect = session.get_bind().dialect.name
    keys = [_column(name, dialect).label(name) for name in group_by]
    denied = A.decision == "deny"
    query: Select[Any] = select(
        *keys,
        func.count(),
        _count(A.outcome == "ok"),
        _count(denied),
        _count(A.outcome == "upstream_error"),
        _count(and_(A.outcome != "ok", A.outcome != "upstream_error", ~denied)),
        _count(A.cache.in_(CACHE_SERVED)),
        _count(A.cache.in_((*CACHE_SERVED, "miss"))),
        func.coalesce(func.avg(A.latency_ms), 0.0),
    )
    query = where.apply(query)
    if keys:
        query = query.group_by(*keys).order_by(*keys)
    masked = _masked(session, keys, group_by, where, dialect)
    lines = []
    for row in session.execute(query):
        values: tuple[Any, ...] = tuple(row)
        group: dict[str, str | None] = {
            k: (str(v) if v is not None else None) for k, v in zip(group_by, values[: len(keys)], strict=True)
        }
        calls, ok, refused, upstream, other, hits, lookups, latency = values[len(keys) :]
        lines.append(
            AuditLine(
                group=group,
                calls=int(calls),
                ok=int(ok),
                denied=int(refused),
                upstream_errors=int(upstream),
                other_errors=int(other),
                cache_hits=int(hits),
                cache_lookups=int(lookups),
                masked=masked.get(tuple(group.values()), {}),
                latency_ms_avg=round(float(latency), 3),
            )
        )
    return [line for line in lines if line.calls]


def _masked(
    session: Session,
    keys: list[Any],
    group_by: list[AuditGroup],
    where: AuditFilter,
    dialect: str,
) -> dict[tuple[str | None, ...], dict[str, int]]:
    """Masked entities by group and type, summed over the JSON objects in SQL."""
    if dialect == "sqlite":
        entries = func.json_each(A.masked).table_valued("key", "value")
        is_object = func.json_type(A.masked) == "object"
    else:
        entries = func.json_each_text(A.masked).table_valued("key", "value")
        is_object = func.json_typeof(A.masked) == "object"
    amount = cast(entries.c.value, Integer)
    query = (
        select(*keys, entries.c.key, func.sum(amount))
        .select_from(A)
        .join(entries, true())
        .where(A.masked.is_not(None), is_object)
        .group_by(*keys, entries.c.key)
    )
    found: dict[tuple[str | None, ...], dict[str, int]] = {}
    for row in session.execute(where.apply(query)):
        values: tuple[Any, ...] = tuple(row)
        group = tuple(str(v) if v is not None else None for v in values[: len(group_by)])
        kind, total = values[len(group_by) :]
        found.setdefault(group, {})[str(kind)] = int(total or 0)
    return found
