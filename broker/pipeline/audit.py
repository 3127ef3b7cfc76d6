from __future__ import annotations

import asyncio
import hashlib
import time
from datetime import UTC, datetime
from typing import Any

from cachetools import LRUCache

from broker.audit.writer import AuditEntry, AuditWriter
from broker.canonical import KeyedHash
from broker.errors import ToolCallError
from broker.guard import injection
from broker.metrics import Children, Metrics
from broker.pii import scrub
from broker.pipeline.call import Next, Request, ResourceRead, ToolCall
from broker.telemetry import current_trace_id
from connectors.base import Output, ToolOutput

INJECTION_THRESHOLD = 0.6
SCANNED_CHARACTERS = 64 * 1024
OFF_LOOP_CHARS = 8 * 1024


def instructions_in(output: ToolOutput) -> dict[str, object] | None:
    """A flag for a tool result that carries instructions aimed at the model (prompt injection
    riding on data), with the heuristics' score and signals; None for ordinary results."""
    return _flag(_scanned(output))


def _scanned(output: ToolOutput) -> str:
    """The text blocks joined, as far as they are scanned (a 5 MB result is not copied whole)."""
    parts: list[str] = []
    length = 0
    for block in output.content:
        if block.get("type") == "text":
            part = str(block.get("text", ""))[: SCANNED_CHARACTERS - length]
            parts.append(part)
            length += len(part) + 1
            if length > SCANNED_CHARACTERS:
                break
    return "\n".join(parts)[:SCANNED_CHARACTERS]


def _flag(text: str) -> dict[str, object] | None:
    if not text or not injection.suspect(text):
        return None
    found = injection.score(text)
    if found.value < INJECTION_THRESHOLD:
        return None
    return {"injection": {"score": found.value, "signals": list(found.signals)}}


FLAG_MEMO = 4096
"""Results whose flag is remembered by digest: a cached result is scored once, not on every hit."""


UNKNOWN = "(unknown)"
"""The metric label of targets Authorize could not resolve: cardinality stays bounded."""


class Audit:
    """Outermost stage: every outcome, denials included, becomes a record and a metric.

    Every operation gets the same record (its `operation` says which; `tool` holds the target:
    a tool or prompt name, a resource URI, the prompt or template a completion is for).
    Arguments are kept only as a keyed fingerprint and their names. Free text that may carry
    personal data (denial reasons, error messages, names the agent made up, resource URIs) is
    scrubbed: each detected entity is replaced by its type.
    """

    def __init__(
        self, writer: AuditWriter, metrics: Metrics, hash_key: bytes, *, traced: bool = False
    ) -> None:
        self._traced = traced
        self._writer = writer
        self._metrics = metrics
        self._hash = KeyedHash(hash_key)
        self._clean: dict[str, str] = {}
        self._flags: LRUCache[bytes, dict[str, object] | None] = LRUCache(FLAG_MEMO)
        self._children = Children()

    async def __call__(self, request: Request, call_next: Next) -> Output:
        started = time.perf_counter()
        try:
            output = await call_next(request)
        except ToolCallError as exc:
            await self._record(request, exc.outcome, exc.audit_message, started)
            raise
        except Exception:
            await self._record(request, "internal_error", "the gateway failed unexpectedly", started)
            raise
        failed = isinstance(output, ToolOutput) and output.is_error
        if isinstance(output, ToolOutput):
            flag = await self._flag(output)
            if flag is not None:
                request.notes["flags"] = flag
        await self._record(request, "tool_error" if failed else "ok", None, started)
        return output

    async def _record(self, request: Request, outcome: str, error: str | None, started: float) -> None:
        elapsed = time.perf_counter() - started
        decision = request.decision
        operation = request.operation
        target = request.target[:200]
        known = request.known
        self._observe(request, operation, outcome, elapsed)
        arguments = getattr(request, "arguments", None) or {}
        # A tool or prompt name the catalog knows is kept as is; URIs and made-up names are scrubbed.
        clean_target = target if known and not isinstance(request, ResourceRead) else self._scrub(target)
        await self._writer.record(
            AuditEntry(
                ts=datetime.now(UTC),
                request_id=request.request_id,
                agent=request.agent.name,
                team=request.agent.team,
                tool=clean_target,
                decision="allow" if decision is not None and decision.allowed else "deny",
                reason=self._scrub(decision.reason) if decision is not None else "",
                outcome=outcome,
                error=scrub(error) if error else error,
                latency_ms=round(elapsed * 1000, 3),
                arguments_hash=self._fingerprint(request, arguments) if arguments else None,
                argument_names=[self._scrub(name) for name in sorted(arguments)[:50]],
                policy_revision=request.snapshot.policy_revision,
                masked=request.masked,
                cache=request.notes.get("cache"),
                flags=request.notes.get("flags"),
                operation=operation,
                end_user=request.agent.end_user,
                trace_id=current_trace_id() if self._traced else None,
            )
        )

    def _observe(self, request: Request, operation: str, outcome: str, elapsed: float) -> None:
        metrics, child = self._metrics, self._children
        if isinstance(request, ToolCall):
            tool = request.tool_name if request.known else UNKNOWN
            child(metrics.tool_calls, request.agent.name, tool, outcome).inc()
            child(metrics.tool_latency, tool, outcome).observe(elapsed)
        child(metrics.requests, request.agent.name, operation, request.connector or UNKNOWN, outcome).inc()
        child(metrics.request_latency, operation, outcome).observe(elapsed)

    def _fingerprint(self, request: Request, arguments: dict[str, Any]) -> str:
        """`fingerprint` of the arguments, from the canonical JSON ValidateArguments made already
        when there is one (the same bytes: one serialisation fewer per call)."""
        canonical = request.canonical_arguments if isinstance(request, ToolCall) else None
        if canonical is None:
            return self._hash.fingerprint(arguments)
        return self._hash.fingerprint_canonical(canonical)

    async def _flag(self, output: ToolOutput) -> dict[str, object] | None:
        """`instructions_in`, remembered by the digest of the scanned text."""
        text = _scanned(output)
        digest = hashlib.sha256(text.encode(errors="surrogatepass")).digest()  # SHA-NI: faster than blake2b
        if digest in self._flags:
            return self._flags[digest]
        # scoring a long text takes tens of milliseconds or more: off the event loop
        flag = _flag(text) if len(text) < OFF_LOOP_CHARS else await asyncio.to_thread(_flag, text)
        self._flags[digest] = flag
        return flag

    def _scrub(self, text: str) -> str:
        """`scrub`, remembered: reasons and argument names repeat from call to call."""
        clean = self._clean.get(text)
        if clean is None:
            if len(self._clean) >= 4096:
                self._clean.clear()
            clean = self._clean[text] = scrub(text)
        return clean
