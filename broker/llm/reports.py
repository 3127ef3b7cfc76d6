"""Reading the usage ledger: totals for budgets, and usage reports by agent, end user, team or model."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.orm import Session

from broker.llm.config import BudgetConfig
from broker.store.buckets import time_bucket
from broker.store.models import LlmUsageRecord as U

GroupBy = Literal[
    "agent", "user", "team", "model", "provider", "endpoint", "connector", "tool", "status", "day", "hour"
]


def spent_since(session: Session, budget: BudgetConfig, since: datetime) -> float:
    """What a budget's subject has used since `since`, in the budget's unit."""
    amount = U.prompt_tokens + U.completion_tokens if budget.unit == "tokens" else U.cost_usd
    subject = U.agent if budget.scope == "agent" else U.team
    total = session.scalar(
        select(func.coalesce(func.sum(amount), 0)).where(subject == budget.subject, U.ts >= since)
    )
    return float(total or 0)


@dataclass(frozen=True, slots=True)
class UsageRow:
    group: dict[str, str | None]
    requests: int
    errors: int
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    estimated: int
    cost_usd: float


def _column(name: GroupBy, dialect: str) -> ColumnElement[str | None]:
    if name == "day":
        if dialect == "sqlite":
            return func.strftime("%Y-%m-%d", U.ts)
        return func.to_char(func.timezone("UTC", U.ts), "YYYY-MM-DD")
    if name == "hour":
        return time_bucket(U.ts, "hour", dialect)
    column: ColumnElement[str | None] = getattr(U, "end_user" if name == "user" else name)
    return column


def usage_report(
    session: Session,
    group_by: list[GroupBy],
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    agent: str | None = None,
    team: str | None = None,
    model: str | None = None,
    user: str | None = None,
) -> list[UsageRow]:
    dialect = session.get_bind().dialect.name
    keys = [_column(name, dialect).label(name) for name in group_by]
    query = select(
        *keys,
        func.count().label("requests"),
        func.sum(case((U.status == "ok", 0), else_=1)).label("errors"),
        func.coalesce(func.sum(U.prompt_tokens), 0),
        func.coalesce(func.sum(U.completion_tokens), 0),
        func.coalesce(func.sum(U.cached_tokens), 0),
        func.sum(case((U.estimated, 1), else_=0)),
        func.coalesce(func.sum(U.cost_usd), 0.0),
    )
    for column, value in ((U.agent, agent), (U.team, team), (U.model, model), (U.end_user, user)):
        if value is not None:
            query = query.where(column == value)
    if since is not None:
        query = query.where(U.ts >= since)
    if until is not None:
        query = query.where(U.ts < until)
    if keys:
        query = query.group_by(*keys).order_by(*keys)
    rows = []
    for row in session.execute(query):
        values = tuple(row)
        group = dict(zip(group_by, values[: len(keys)], strict=True))
        requests, errors, prompt, completion, cached, estimated, cost = values[len(keys) :]
        rows.append(
            UsageRow(
                group={k: (str(v) if v is not None else None) for k, v in group.items()},
                requests=int(requests),
                errors=int(errors or 0),
                prompt_tokens=int(prompt),
                completion_tokens=int(completion),
                cached_tokens=int(cached),
                estimated=int(estimated or 0),
                cost_usd=float(cost),
            )
        )
    return [r for r in rows if r.requests]
