"""/admin/llm/usage and /admin/llm/budget-status: what model calls used, and what is left."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial
from typing import Annotated, Literal

from fastapi import Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session
from starlette.requests import Request

from broker.admin.llm import runtime_of
from broker.admin.runtime import admin_subrouter, read
from broker.errors import InvalidInput
from broker.llm.reports import GroupBy, spent_since, usage_report

router = admin_subrouter("llm")
Period = Literal["today", "day", "month", "all"]
GROUPS: tuple[GroupBy, ...] = (
    "agent",
    "user",
    "team",
    "model",
    "provider",
    "endpoint",
    "connector",
    "tool",
    "status",
    "day",
    "hour",
)
"""`day` is YYYY-MM-DD; `hour` the start of the UTC hour, ISO 8601 (the console's time buckets);
`connector` and `tool` name the upstream tool whose sampling request the gateway served (endpoint
`sampling`), null for calls made at /v1."""


class UsageLine(BaseModel):
    model_config = ConfigDict(extra="forbid")

    group: dict[str, str | None] = Field(
        description="The grouping values, e.g. {'agent': 'bot', 'model': 'fast'}."
    )
    requests: int
    errors: int = Field(description="Calls that did not end 'ok' (refused, failed upstream, cut off).")
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    estimated: int = Field(description="Calls whose tokens were estimated (the provider reported none).")
    cost_usd: float


class UsageReport(BaseModel):
    model_config = ConfigDict(extra="forbid")

    since: datetime | None
    until: datetime | None
    by: list[str]
    lines: list[UsageLine]
    total: UsageLine


class BudgetStatus(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    scope: str
    subject: str
    period: str
    unit: str
    limit: float
    spent: float
    reserved: float = Field(description="Held by calls in flight.")
    remaining: float
    resets_at: datetime


def period_start(period: Period, now: datetime) -> datetime | None:
    if period in ("today", "day"):
        return now.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "month":
        return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return None


@router.get("/llm/usage", summary="Model usage and cost, grouped")
async def usage(
    request: Request,
    by: str = Query(
        "agent,model", description=f"Comma-separated grouping: {', '.join(GROUPS)}; empty: totals."
    ),
    period: Annotated[
        Period, Query(description="today (UTC), this month, or all; since overrides it.")
    ] = "month",
    since: Annotated[
        datetime | None, Query(description="Only calls at or after this time (ISO 8601).")
    ] = None,
    until: Annotated[datetime | None, Query(description="Only calls before this time.")] = None,
    agent: str | None = Query(None),
    team: str | None = Query(None),
    model: str | None = Query(None, description="The model name as clients asked for it."),
    user: str | None = Query(None, max_length=200, description="Only calls made for this end user."),
) -> UsageReport:
    wanted = [g.strip() for g in by.split(",") if g.strip()]
    unknown = [g for g in wanted if g not in GROUPS]
    if unknown:
        raise InvalidInput(f"cannot group by {', '.join(unknown)}; choose from {', '.join(GROUPS)}")
    groups = [g for g in GROUPS if g in wanted]
    start = since or period_start(period, datetime.now(UTC))
    await runtime_of(request).ledger.flush()  # calls made just now count

    def fetch(session: Session) -> tuple[list[UsageLine], UsageLine]:
        def report(grouping: list[GroupBy]) -> list[UsageLine]:
            rows = usage_report(
                session, grouping, since=start, until=until, agent=agent, team=team, model=model, user=user
            )
            return [UsageLine(**vars_of(row)) for row in rows]

        totals = report([])
        return report(groups), totals[0] if totals else empty_line()

    lines, total = await read(request, fetch)
    return UsageReport(since=start, until=until, by=list(groups), lines=lines, total=total)


def vars_of(row: object) -> dict[str, object]:
    return {name: getattr(row, name) for name in UsageLine.model_fields}


def empty_line() -> UsageLine:
    return UsageLine(group={}, requests=0, errors=0, prompt_tokens=0, completion_tokens=0, cached_tokens=0,
                     estimated=0, cost_usd=0.0)  # fmt: skip


@router.get("/llm/budget-status", summary="Every budget: spent, reserved and left in its current window")
async def budget_status(request: Request) -> list[BudgetStatus]:
    llm = runtime_of(request)
    await llm.ledger.flush()
    now = datetime.now(UTC)
    found = []
    for rule in llm.state.snapshot.budgets:
        config, window = rule.config, rule.window(now)
        live = await llm.accounts.spent(rule)
        if live is None:
            spent, reserved = (
                await read(request, partial(spent_since, budget=config, since=window.start)),
                0.0,
            )
        else:
            spent, reserved = live
        found.append(
            BudgetStatus(
                name=config.name,
                scope=config.scope,
                subject=config.subject,
                period=config.period,
                unit=config.unit,
                limit=config.limit,
                spent=round(spent, 6),
                reserved=round(reserved, 6),
                remaining=round(max(0.0, config.limit - spent), 6),
                resets_at=window.resets_at,
            )
        )
    return found
