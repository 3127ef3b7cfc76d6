"""Aggregates for the console: audit counts by tool, agent or time, and what waits for review.

Counted in the database (GROUP BY, JSON functions for masked entities), never by loading rows.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Literal

from fastapi import Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session
from starlette.requests import Request

from broker.admin.auth import gateway_of
from broker.admin.runtime import admin_subrouter, read
from broker.audit.reports import AuditFilter, AuditGroup, AuditLine, audit_summary
from broker.catalog import Federated
from broker.errors import InvalidInput

router = admin_subrouter("observe")
AUDIT_GROUPS: tuple[AuditGroup, ...] = ("tool", "agent", "user", "team", "outcome", "hour", "day")


class AuditSummaryLine(BaseModel):
    model_config = ConfigDict(extra="forbid")

    group: dict[str, str | None] = Field(description="The grouping values, e.g. {'tool': 'crm.get'}.")
    calls: int
    ok: int
    denied: int = Field(description="Refused by policy: hidden or unknown tools, refused arguments.")
    upstream_errors: int
    other_errors: int = Field(
        description="Invalid arguments, quarantined tools, masking or credential errors."
    )
    cache_hits: int = Field(description="Served from the cache (hit or coalesced with another call's miss).")
    cache_lookups: int = Field(description="Hits plus misses: calls the cache could have served.")
    cache_hit_ratio: float | None = Field(description="cache_hits / cache_lookups; null with no lookups.")
    masked: dict[str, int] = Field(description="Entities masked in results, by type.")
    masked_total: int
    latency_ms_avg: float


class AuditSummary(BaseModel):
    model_config = ConfigDict(extra="forbid")

    since: datetime | None
    until: datetime | None
    by: list[str]
    lines: list[AuditSummaryLine]
    total: AuditSummaryLine


class HeldTool(BaseModel):
    model_config = ConfigDict(extra="forbid")

    connector: str
    tool: str = Field(description="The name agents see (or would see).")
    status: Literal["changed", "removed", "new"]
    reason: str


@router.get("/audit/summary", summary="Tool calls counted by tool, agent, outcome or time bucket")
async def summary(
    request: Request,
    by: str = Query(
        "tool", description=f"Comma-separated grouping: {', '.join(AUDIT_GROUPS)}; empty: totals."
    ),
    since: Annotated[
        datetime | None, Query(description="Only calls at or after this time (ISO 8601).")
    ] = None,
    until: Annotated[datetime | None, Query(description="Only calls before this time.")] = None,
    agent: str | None = Query(None, description="Only this agent's calls."),
    tool: str | None = Query(None, description="Only calls of this tool (qualified name)."),
) -> AuditSummary:
    wanted = [g.strip() for g in by.split(",") if g.strip()]
    unknown = [g for g in wanted if g not in AUDIT_GROUPS]
    if unknown:
        raise InvalidInput(f"cannot group by {', '.join(unknown)}; choose from {', '.join(AUDIT_GROUPS)}")
    groups = [g for g in AUDIT_GROUPS if g in wanted]
    where = AuditFilter(since=since, until=until, agent=agent, tool=tool)
    await gateway_of(request).audit.flush()  # calls made just now count

    def fetch(session: Session) -> tuple[list[AuditSummaryLine], list[AuditSummaryLine]]:
        return _lines(audit_summary(session, groups, where)), _lines(audit_summary(session, [], where))

    lines, totals = await read(request, fetch)
    total = totals[0] if totals else _empty()
    return AuditSummary(since=since, until=until, by=list(groups), lines=lines, total=total)


def _lines(found: list[AuditLine]) -> list[AuditSummaryLine]:
    lines = []
    for line in found:
        ratio = round(line.cache_hits / line.cache_lookups, 4) if line.cache_lookups else None
        lines.append(
            AuditSummaryLine(**asdict(line), cache_hit_ratio=ratio, masked_total=sum(line.masked.values()))
        )
    return lines


def _empty() -> AuditSummaryLine:
    zero = AuditLine(group={}, calls=0, ok=0, denied=0, upstream_errors=0, other_errors=0, cache_hits=0,
                     cache_lookups=0, masked={}, latency_ms_avg=0.0)  # fmt: skip
    return _lines([zero])[0]


@router.get(
    "/quarantine",
    summary="Upstream MCP tools held back for review, and new ones not yet approved",
    description="From each mcp connector's last listing (no upstream call): changed and removed tools "
    "are quarantined; new ones wait for approval. Review with /admin/connectors/{name}/diff.",
)
async def quarantine(request: Request) -> list[HeldTool]:
    held = []
    for name, connector in gateway_of(request).state.snapshot.connectors.items():
        if not isinstance(connector, Federated):
            continue
        drift = connector.drift()
        for status, tools, reason in (
            ("changed", drift.changed, "its definition changed upstream since it was approved"),
            ("removed", drift.removed, "the upstream no longer lists it"),
            ("new", drift.new, "listed upstream, not approved yet"),
        ):
            held += [
                HeldTool(connector=name, tool=connector.exposed_name(tool), status=status, reason=reason)
                for tool in tools
            ]
    return held
