"""/admin/audit and /admin/tools: what happened, and what each agent can see."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.requests import Request

from broker.admin.auth import gateway_of
from broker.admin.connectors import ToolInfo, tool_info
from broker.admin.runtime import admin_subrouter, read, utc
from broker.services import agents as agent_service
from broker.store.models import AuditRecord
from policies import Subject

router = admin_subrouter("observe")


class AuditEntry(BaseModel):
    """One upstream operation (or refused one) as recorded. Argument values are never stored."""

    model_config = ConfigDict(extra="forbid")

    id: int = Field(description="Increasing id; pass the highest seen as after_id to poll for newer records.")
    ts: datetime
    request_id: str
    trace_id: str | None = Field(
        default=None, description="The OpenTelemetry trace of the request (when BROKER_OTLP_ENDPOINT is set)."
    )
    agent: str
    team: str | None
    end_user: str | None = Field(default=None, description="The end user the agent acted for (OAuth).")
    operation: str = Field(
        default="tools/call", description="tools/call, resources/read, prompts/get or completion/complete."
    )
    tool: str = Field(description="The target: a tool or prompt name, a resource URI (scrubbed of PII).")
    decision: str
    reason: str
    outcome: str = Field(description="ok, denied, unknown_tool, invalid_arguments, upstream_error, ...")
    error: str | None
    latency_ms: float
    argument_names: list[str]
    policy_revision: int
    masked: dict[str, int] | None = Field(
        default=None, description='Entities masked in the result, by type: {"EMAIL_ADDRESS": 2}.'
    )
    cache: str | None = Field(
        default=None,
        description="The tool cache's answer: hit, miss, bypass, uncacheable or coalesced "
        "(null: the call did not reach the cache).",
    )
    flags: dict[str, Any] | None = Field(
        default=None,
        description="What the result carried that deserves a look, e.g. "
        '{"injection": {"score": 0.8, "signals": ["override"]}}: instructions aimed at the model.',
    )


class CatalogEntry(ToolInfo):
    visible: bool | None = Field(default=None, description="With ?agent=: whether the agent sees this tool.")
    reason: str | None = Field(default=None, description="With ?agent=: why it does or does not.")


class Catalog(BaseModel):
    model_config = ConfigDict(extra="forbid")

    revision: int = Field(description="State revision of the catalog snapshot.")
    policy_revision: int
    agent: str | None
    tools: list[CatalogEntry]


def audit_entry(row: AuditRecord) -> AuditEntry:
    return AuditEntry(
        id=row.id,
        ts=utc(row.ts),
        request_id=row.request_id,
        trace_id=row.trace_id,
        agent=row.agent,
        team=row.team,
        end_user=row.end_user,
        operation=row.operation,
        tool=row.tool,
        decision=row.decision,
        reason=row.reason,
        outcome=row.outcome,
        error=row.error,
        latency_ms=row.latency_ms,
        argument_names=[str(name) for name in row.argument_names],
        policy_revision=row.policy_revision,
        masked=row.masked,
        cache=row.cache,
        flags=row.flags,
    )


@router.get("/audit", summary="Audit records, newest first")
async def audit(
    request: Request,
    limit: int = Query(50, ge=1, le=1000, description="How many records."),
    agent: str | None = Query(None, description="Only this agent's calls."),
    user: str | None = Query(None, max_length=200, description="Only calls made for this end user."),
    tool: str | None = Query(None, description="Only calls of this tool (qualified name), or this target."),
    operation: str | None = Query(None, description="Only this operation, e.g. resources/read."),
    outcome: str | None = Query(None, description="Only this outcome, e.g. denied."),
    after_id: int | None = Query(None, ge=0, description="Only records newer than this id (for polling)."),
    before_id: int | None = Query(None, ge=0, description="Only records older than this id (next page)."),
    since: Annotated[
        datetime | None, Query(description="Only records at or after this time (ISO 8601).")
    ] = None,
    until: Annotated[datetime | None, Query(description="Only records before this time.")] = None,
) -> list[AuditEntry]:
    await gateway_of(request).audit.flush()  # so calls made just now show up
    query = select(AuditRecord).order_by(AuditRecord.id.desc()).limit(limit)
    if agent is not None:
        query = query.where(AuditRecord.agent == agent)
    if user is not None:
        query = query.where(AuditRecord.end_user == user)
    if tool is not None:
        query = query.where(AuditRecord.tool == tool)
    if outcome is not None:
        query = query.where(AuditRecord.outcome == outcome)
    if operation is not None:
        query = query.where(AuditRecord.operation == operation)
    if after_id is not None:
        query = query.where(AuditRecord.id > after_id)
    if before_id is not None:
        query = query.where(AuditRecord.id < before_id)
    if since is not None:
        query = query.where(AuditRecord.ts >= since)
    if until is not None:
        query = query.where(AuditRecord.ts < until)

    def fetch(session: Session) -> list[AuditEntry]:
        return [audit_entry(row) for row in session.scalars(query)]

    return await read(request, fetch)


@router.get("/tools", summary="The tool catalog; with ?agent=, which tools that agent sees")
async def tools(
    request: Request, agent: str | None = Query(None, description="Decide visibility for this agent.")
) -> Catalog:
    subject = None
    if agent is not None:
        found = await read(request, lambda s: agent_service.get_agent(s, agent))
        subject = Subject(name=found.name, team=found.team)
    snapshot = gateway_of(request).state.snapshot
    entries = []
    for tool in snapshot.tools.values():
        entry = CatalogEntry(**tool_info(tool).model_dump())
        if subject is not None:
            decision = snapshot.policy_set.decide(subject, tool.name, None)
            entry.visible, entry.reason = decision.allowed, decision.reason
        entries.append(entry)
    return Catalog(
        revision=snapshot.revision, policy_revision=snapshot.policy_revision, agent=agent, tools=entries
    )
