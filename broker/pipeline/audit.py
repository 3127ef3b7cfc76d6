from __future__ import annotations

import time
from datetime import UTC, datetime

from broker.audit.writer import AuditEntry, AuditWriter
from broker.canonical import fingerprint
from broker.errors import ToolCallError
from broker.metrics import Metrics
from broker.pii import scrub
from broker.pipeline.call import Next, ToolCall
from connectors.base import ToolOutput


class Audit:
    """Outermost stage: every outcome, denials included, becomes a record and a metric.

    Arguments are kept only as a keyed fingerprint and their names. Free text that may carry
    personal data (denial reasons, error messages, names the agent made up) is scrubbed: each
    detected entity is replaced by its type.
    """

    def __init__(self, writer: AuditWriter, metrics: Metrics, hash_key: bytes) -> None:
        self._writer = writer
        self._metrics = metrics
        self._hash_key = hash_key
        self._clean: dict[str, str] = {}

    async def __call__(self, call: ToolCall, call_next: Next) -> ToolOutput:
        started = time.perf_counter()
        try:
            output = await call_next(call)
        except ToolCallError as exc:
            await self._record(call, exc.outcome, exc.audit_message, started)
            raise
        except Exception:
            await self._record(call, "internal_error", "the gateway failed unexpectedly", started)
            raise
        await self._record(call, "tool_error" if output.is_error else "ok", None, started)
        return output

    async def _record(self, call: ToolCall, outcome: str, error: str | None, started: float) -> None:
        elapsed = time.perf_counter() - started
        decision = call.decision
        # Unknown tools are logged under a fixed label so metric cardinality stays bounded.
        tool_label = call.tool_name if call.tool is not None else "(unknown)"
        self._metrics.tool_calls.labels(call.agent.name, tool_label, outcome).inc()
        self._metrics.tool_latency.labels(tool_label, outcome).observe(elapsed)
        await self._writer.record(
            AuditEntry(
                ts=datetime.now(UTC),
                request_id=call.request_id,
                agent=call.agent.name,
                team=call.agent.team,
                tool=call.tool_name[:200] if call.tool is not None else self._scrub(call.tool_name[:200]),
                decision="allow" if decision is not None and decision.allowed else "deny",
                reason=self._scrub(decision.reason) if decision is not None else "",
                outcome=outcome,
                error=scrub(error) if error else error,
                latency_ms=round(elapsed * 1000, 3),
                arguments_hash=fingerprint(self._hash_key, call.arguments) if call.arguments else None,
                argument_names=[self._scrub(name) for name in sorted(call.arguments)[:50]],
                policy_revision=call.snapshot.policy_revision,
                masked=call.masked,
                cache=call.notes.get("cache"),
                end_user=call.agent.end_user,
            )
        )

    def _scrub(self, text: str) -> str:
        """`scrub`, remembered: reasons and argument names repeat from call to call."""
        clean = self._clean.get(text)
        if clean is None:
            if len(self._clean) >= 4096:
                self._clean.clear()
            clean = self._clean[text] = scrub(text)
        return clean
