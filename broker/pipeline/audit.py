from __future__ import annotations

import asyncio
import hashlib
import re
import time
from datetime import UTC, datetime
from typing import Any

from cachetools import LRUCache

from broker.audit.writer import AuditEntry, AuditWriter
from broker.canonical import KeyedHash
from broker.errors import ToolCallError
from broker.guard import injection
from broker.memo import Memo
from broker.metrics import Metrics, Spread, Tally
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
    room = SCANNED_CHARACTERS
    for block in output.content:
        if block.get("type") != "text":
            continue
        text = str(block.get("text", ""))
        if len(text) > room:
            parts.append(text[:room])
            return _whole_tokens("\n".join(parts))
        parts.append(text)
        room -= len(text) + 1  # and the newline that joins the next
        if room < 0:
            break
    return "\n".join(parts)


_CUT_TOKEN = re.compile(r"<[A-Z][A-Z0-9_]{0,39}(?:_[0-9a-f]{0,32})?\Z")
"""The start of a PII token (`TOKEN`) that the cut went through: `<EMAIL_ADDRESS_6019d0e`."""


def _whole_tokens(cut: str) -> str:
    """The cut text without a token the cut went through. The first look takes each token's id
    out (`injection.suspect`), but half a token is no token: its hex digits read as leetspeak
    (`d0e`), and a plain masked result past 64 KB paid the full disguise score in a worker thread
    (~15 ms) whenever the cut fell in an id (4 in 60 of bench/instructions.py's 100 KB CRM results)."""
    tail = _CUT_TOKEN.search(cut, len(cut) - 80)
    return cut[: tail.start()] if tail else cut


def _text_only(output: ToolOutput) -> bool:
    return all(block.get("type") == "text" for block in output.content)


def _flag(text: str) -> dict[str, object] | None:
    if not text or not injection.suspect(text):
        return None
    return _scored(text)


async def _flagged(text: str) -> dict[str, object] | None:
    """`_flag(text)` with the event loop kept free: a long text is scored in a worker thread (tens
    of milliseconds or more), and so is its first look, unless that is quick (`quick_verdict`):
    then only a suspect text goes there. A plain 64 KB result cost the loop a thread hop and back
    (~0.2 ms of CPU) for a look of ~0.13 ms."""
    if len(text) < OFF_LOOP_CHARS:
        return _flag(text)
    verdict = injection.quick_verdict(text)
    if verdict is False:
        return None
    return await asyncio.to_thread(_scored if verdict else _flag, text)


def _scored(text: str) -> dict[str, object] | None:
    found = injection.score(text)
    if found.value < INJECTION_THRESHOLD:
        return None
    return {"injection": {"score": found.value, "signals": list(found.signals)}}


FLAG_MEMO = 4096
"""Results whose flag is remembered by digest: a cached result is scored once, not on every hit."""
SERVED_MEMO = 128
SERVED_CHARS = 16 * 1024
"""Cached results whose flag is also remembered by identity: at most SERVED_MEMO of them, each
only text and less than SERVED_CHARS of it, so the results kept alive stay a few MB at most."""
_UNSCORED: dict[str, object] = {}


TALLY_MEMO = 4096

_Tallies = tuple[Tally | None, Spread | None, Tally, Spread]

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
        self._clean: Memo[str, str] = Memo()
        self._flags: LRUCache[bytes, dict[str, object] | None] = LRUCache(FLAG_MEMO)
        self._served: Memo[int, tuple[ToolOutput, dict[str, object] | None]] = Memo(SERVED_MEMO)
        """Flags of results served from the cache, by identity: the in-process cache hands out the
        same object on every hit, so its text need not be joined and hashed again."""
        self._tallies: Memo[tuple[str, str | None, str, str, str], _Tallies] = Memo(TALLY_MEMO)
        """The metric children of each (agent, tool, operation, connector, outcome), looked up in
        one step per call (emptied whole at TALLY_MEMO sets; the metrics keep every child)."""

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
            flag = await self._flag(output, request.notes.get("cache") == "hit")
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
        agent = request.agent
        notes = request.notes
        # AuditEntry._make: the fields in order, as one tuple (by keyword ~1.6 us, this ~0.4)
        entry = AuditEntry._make(
            (
                datetime.now(UTC),  # ts
                request.request_id,  # request_id
                agent.name,  # agent
                agent.team,  # team
                clean_target,  # tool
                "allow" if decision is not None and decision.allowed else "deny",  # decision
                self._scrub(decision.reason) if decision is not None else "",  # reason
                outcome,  # outcome
                scrub(error) if error else error,  # error
                round(elapsed * 1000, 3),  # latency_ms
                self._fingerprint(request, arguments) if arguments else None,  # arguments_hash
                [self._scrub(name) for name in sorted(arguments)[:50]],  # argument_names
                request.snapshot.policy_revision,  # policy_revision
                request.masked,  # masked
                notes.get("cache"),  # cache
                agent.end_user,  # end_user
                notes.get("flags"),  # flags
                current_trace_id() if self._traced else None,  # trace_id
                operation,  # operation
            )
        )
        await self._writer.record(entry)

    def _observe(self, request: Request, operation: str, outcome: str, elapsed: float) -> None:
        tool = (request.tool_name if request.known else UNKNOWN) if isinstance(request, ToolCall) else None
        key = (request.agent.name, tool, operation, request.connector or UNKNOWN, outcome)
        tallies = self._tallies.get(key)
        if tallies is None:
            tallies = self._tallies.keep(key, self._children(*key))
        tool_calls, tool_latency, requests, request_latency = tallies
        if tool_calls is not None and tool_latency is not None:
            tool_calls.value += 1.0
            tool_latency.observe(elapsed)
        requests.value += 1.0
        request_latency.observe(elapsed)

    def _children(
        self, agent: str, tool: str | None, operation: str, connector: str, outcome: str
    ) -> _Tallies:
        """broker_tool_calls and broker_tool_call_duration_seconds (tool calls only), broker_requests
        and broker_request_duration_seconds: each label set made in this order at its first use."""
        metrics = self._metrics
        return (
            metrics.tool_calls.child(agent, tool, outcome) if tool is not None else None,
            metrics.tool_latency.child(tool, outcome) if tool is not None else None,
            metrics.requests.child(agent, operation, connector, outcome),
            metrics.request_latency.child(operation, outcome),
        )

    def _fingerprint(self, request: Request, arguments: dict[str, Any]) -> str:
        """`fingerprint` of the arguments, from the canonical JSON ValidateArguments made already
        when there is one (the same bytes: one serialisation fewer per call)."""
        canonical = request.canonical_arguments if isinstance(request, ToolCall) else None
        if canonical is None:
            return self._hash.fingerprint(arguments)
        return self._hash.fingerprint_canonical(canonical)

    async def _flag(self, output: ToolOutput, cached: bool) -> dict[str, object] | None:
        """`instructions_in`, remembered by the digest of the scanned text, and for a result served
        from the cache by the result itself."""
        if cached:
            served = self._served.get(id(output))
            if served is not None and served[0] is output:
                return served[1]
        text = _scanned(output)
        digest = hashlib.sha256(text.encode(errors="surrogatepass")).digest()  # SHA-NI: faster than blake2b
        flag = self._flags.get(digest, _UNSCORED)
        if flag is _UNSCORED:
            flag = await _flagged(text)
            self._flags[digest] = flag
        if cached and len(text) < SERVED_CHARS and _text_only(output):  # kept alive: small ones only
            self._served.keep(id(output), (output, flag))
        return flag

    def _scrub(self, text: str) -> str:
        """`scrub`, remembered: reasons and argument names repeat from call to call."""
        clean = self._clean.get(text)
        if clean is None:
            clean = self._clean.keep(text, scrub(text))
        return clean
