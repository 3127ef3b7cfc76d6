"""The Audit stage puts each fact of a call in its own column."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime

from sqlalchemy import select

from broker.audit.writer import AuditWriter
from broker.catalog import AgentIdentity, Snapshot, catalog_tool
from broker.errors import ToolDenied
from broker.metrics import Metrics
from broker.pipeline.audit import Audit
from broker.pipeline.call import Request, ToolCall
from broker.store.db import make_engine, make_sessionmaker
from broker.store.migrate import upgrade
from broker.store.models import AuditRecord
from connectors.base import Output, ToolOutput, ToolSpec
from policies import Decision, PolicySet


def call(request_id: str) -> ToolCall:
    tool = catalog_tool("w", ToolSpec("current", "x", {"type": "object"}))
    snapshot = Snapshot(1, 42, PolicySet([], version=1), keys={}, tools={tool.name: tool}, connectors={})
    return ToolCall(
        request_id=request_id,
        agent=AgentIdentity("id-bot", "bot", "ops", end_user="user-7"),
        tool_name=tool.name,
        arguments={"units": "metric", "city": "Paris"},
        snapshot=snapshot,
        tool=tool,
        connector="w",
        decision=Decision(True, "policy p allows w.*"),
    )


async def test_every_column_holds_its_own_fact(database_url: str) -> None:
    upgrade(database_url)
    sessions = make_sessionmaker(make_engine(database_url))
    writer = AuditWriter(sessions, Metrics(), batch_size=100, flush_seconds=0.05, queue_limit=1000)
    writer.start()
    audit = Audit(writer, Metrics(), b"k" * 32)
    before = datetime.now(UTC)

    async def served(request: Request) -> Output:
        request.notes["cache"] = "miss"
        request.masked = {"EMAIL_ADDRESS": 1}
        return ToolOutput(content=[{"type": "text", "text": "fine"}])

    async def refused(request: Request) -> Output:
        request.decision = Decision(False, "no writes on Sunday")
        raise ToolDenied("Denied: no writes on Sunday")

    await audit(call("req-ok"), served)
    with contextlib.suppress(ToolDenied):
        await audit(call("req-denied"), refused)
    await writer.close()
    with sessions() as session:
        rows = {row.request_id: row for row in session.scalars(select(AuditRecord))}
    ok, denied = rows["req-ok"], rows["req-denied"]
    assert before <= ok.ts.replace(tzinfo=UTC) <= datetime.now(UTC)
    assert (ok.agent, ok.team, ok.end_user, ok.tool) == ("bot", "ops", "user-7", "w.current")
    assert (ok.decision, ok.reason, ok.outcome, ok.error) == ("allow", "policy p allows w.*", "ok", None)
    assert ok.arguments_hash is not None and len(ok.arguments_hash) == 64
    assert (ok.argument_names, ok.policy_revision, ok.operation) == (["city", "units"], 42, "tools/call")
    assert (ok.masked, ok.cache, ok.flags, ok.trace_id) == ({"EMAIL_ADDRESS": 1}, "miss", None, None)
    assert ok.latency_ms >= 0
    assert (denied.decision, denied.reason, denied.outcome) == ("deny", "no writes on Sunday", "denied")
    assert denied.error is not None and denied.arguments_hash == ok.arguments_hash
    assert (denied.masked, denied.cache) == (None, None)
