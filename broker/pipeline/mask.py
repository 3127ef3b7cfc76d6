"""MaskPII: personal data and secrets masked on the way back, the agent's own tokens resolved on the way in.

Inbound, an argument holding one of this agent's tokens (`<EMAIL_ADDRESS_7f3a9c21>`) gets
the real value back when the agent's masking lists the tool in `resolve_tokens_for`; a token
the agent cannot resolve (unknown, expired, another agent's) fails the call as
`unknown_token` before anything goes upstream. The resolved values exist only from here to
the upstream: stages outside (Audit, Cache) see the arguments as the agent sent them.

Outbound, the answer and the text of upstream errors are masked per the agent's policy, for
every kind of request: a tool result (content and structured content, error results too),
resource contents (text, JSON text masked structurally; binary blobs pass), prompt messages
(and the prompt's description), completion values. Counts of masked entities by type go to
`Request.masked` (the audit record) and `broker_pii_masked_total{entity}`. An answer that
cannot be masked (the token vault is down) is withheld, never sent unmasked.

Prompt arguments get the agent's tokens resolved like tool arguments, for prompts named in
`resolve_tokens_for`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

from broker.connections.errors import NotConnected
from broker.errors import ToolCallError
from broker.metrics import Metrics
from broker.pii import Counts, Masker, UnknownToken, scrub
from broker.pii.jsontext import serialise
from broker.pii.keys import MaskingFailed
from broker.pii.masker import OFF_LOOP_CHARS
from broker.pii.maskers import Maskers
from broker.pii.plan import masking_plan
from broker.pipeline.call import Next, PromptGet, Request, ToolCall
from connectors.base import (
    SILENT,
    ClientChannel,
    CompletionOutput,
    Output,
    PromptOutput,
    ResourceOutput,
    ToolOutput,
)

log = logging.getLogger("broker.pii")
_WITH_ARGUMENTS = (ToolCall, PromptGet)


class MaskPII:
    def __init__(self, maskers: Maskers, metrics: Metrics) -> None:
        self._maskers = maskers
        self._counter = metrics.pii_masked
        self._seconds = metrics.pii_mask_seconds.child()

    async def __call__(self, call: Request, call_next: Next) -> Output:
        started = time.perf_counter()
        masker = self._maskers.for_plan(masking_plan(call.snapshot.policy_set, call.agent.subject))
        agent = call.agent.id  # tokens belong to the agent's id: a re-created agent starts afresh
        resolving: ToolCall | PromptGet | None = None  # arguments that may hold tokens to resolve
        if isinstance(call, _WITH_ARGUMENTS) and masker.may_resolve(call.target):
            resolving = call
            original = call.arguments
            call.arguments = await _resolve(masker, agent, call.target, original)
        if call.channel is not SILENT:
            call.channel = MaskedChannel(call.channel, masker, agent)
        spent = time.perf_counter() - started
        try:
            output = await call_next(call)
        except NotConnected:  # the gateway's own words and link, not upstream text
            raise
        except ToolCallError as exc:
            started = time.perf_counter()
            await self._mask_error(masker, agent, call, exc)
            self._seconds.observe(spent + time.perf_counter() - started)
            raise
        finally:
            if resolving is not None:
                resolving.arguments = original
        started = time.perf_counter()
        try:
            masked, counts = await _mask_answer(masker, agent, output)
        except Exception:
            log.exception("could not mask the answer to %s; it is withheld", call.operation)
            raise MaskingFailed(
                f"the gateway could not mask the answer to {call.target}, so it is withheld; "
                "try again shortly"
            ) from None
        self._count(call, counts)
        self._seconds.observe(spent + time.perf_counter() - started)
        return masked

    async def _mask_error(self, masker: Masker, agent: str, call: Request, exc: ToolCallError) -> None:
        """Upstream error text (an error body, an echoed request) masked like a result."""
        try:
            message, counts = await masker.mask_text(agent, exc.message)
        except Exception:  # no tokens without the vault: every entity replaced by its type
            message, counts = scrub(exc.message), {}
        if message != exc.message:  # the audit keeps `audit_message`, which Audit scrubs
            exc.message = message
            exc.args = (message,)
        self._count(call, counts)

    def _count(self, call: Request, counts: dict[str, int]) -> None:
        if not counts:
            return
        call.masked = counts
        for entity, count in counts.items():
            self._counter.child(entity).value += count


async def _resolve(masker: Masker, agent: str, target: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """The arguments with the agent's tokens resolved, when the tool (prompt) may have the values."""
    try:
        resolved: dict[str, Any] = await masker.resolve_arguments(agent, target, arguments)
    except UnknownToken:
        raise
    except Exception:
        log.exception("could not resolve PII tokens for %s", target)
        raise MaskingFailed("the gateway cannot resolve PII tokens now; try again shortly") from None
    return resolved


async def _mask_answer(masker: Masker, agent: str, output: Output) -> tuple[Output, Counts]:
    if isinstance(output, ToolOutput):
        if output.input_required is not None:  # the client's questions, masked like a request to it
            asked = output.input_required
            requests, counts = await masker.mask_json(agent, dict(asked.requests))
            return dataclasses.replace(
                output, input_required=dataclasses.replace(asked, requests=requests)
            ), counts
        if output.task is not None:  # a task's status message is upstream text (broker/mcp/tasks.py)
            said, counts = await masker.mask_json(agent, output.task.get("statusMessage"))
            task = {**output.task, "statusMessage": said} if said is not None else output.task
            return dataclasses.replace(output, task=task), counts
        content, structured, counts = await _mask_output(masker, agent, output)
        return dataclasses.replace(output, content=content, structured=structured), counts
    if isinstance(output, ResourceOutput):
        wrapped = [{"type": "resource", "resource": item} for item in output.contents]
        blocks, counts = await masker.mask_content_blocks(agent, wrapped)
        return dataclasses.replace(output, contents=[block["resource"] for block in blocks]), counts
    if isinstance(output, PromptOutput):
        blocks, counts = await masker.mask_content_blocks(
            agent, [message.get("content") or {} for message in output.messages]
        )
        messages = [
            {**message, "content": block} for message, block in zip(output.messages, blocks, strict=True)
        ]
        description = output.description
        if description:
            description, more = await masker.mask_text(agent, description)
            counts = {e: counts.get(e, 0) + more.get(e, 0) for e in {*counts, *more}}
        return dataclasses.replace(output, messages=messages, description=description), counts
    assert isinstance(output, CompletionOutput)
    values, counts = await masker.mask_json(agent, list(output.values))
    return dataclasses.replace(output, values=values), counts


async def _mask_output(
    masker: Masker, agent: str, output: ToolOutput
) -> tuple[list[dict[str, Any]], dict[str, Any] | None, Counts]:
    """Masked content and structured content. A result whose one text block is the compact JSON
    of its structured content (`ToolOutput.from_json`, every http/openapi/sql result) is masked
    once and the text re-serialised from it: half the work, and the two forms agree."""
    size = _text_size(output.content)
    off_loop = size >= OFF_LOOP_CHARS  # a big result is handled in a worker thread: the loop goes on
    if off_loop:
        shape = await asyncio.to_thread(_json_twin, output.content, output.structured)
    else:
        shape = _json_twin(output.content, output.structured)
    if shape is None or output.structured is None:
        return await masker.mask_result(agent, output.content, output.structured)
    structured, counts = await masker.mask_json(agent, dict(output.structured), size=size)
    masked = structured["result"] if shape == "result" else structured
    text = await asyncio.to_thread(_compact, masked) if off_loop else _compact(masked)
    return [{**output.content[0], "text": text}], structured, counts


def _text_size(content: Sequence[Mapping[str, Any]]) -> int:
    return sum(len(text) for block in content if isinstance(text := block.get("text"), str))


def _json_twin(content: Sequence[Mapping[str, Any]], structured: Mapping[str, Any] | None) -> str | None:
    """'whole' or 'result' when the text block serialises `structured` (or its lone 'result')."""
    if structured is None or len(content) != 1 or content[0].get("type") != "text":
        return None
    text = content[0].get("text")
    if not isinstance(text, str):
        return None
    if text[:1] == "{" and text == _compact(structured):
        return "whole"
    if len(structured) == 1 and "result" in structured and text == _compact(structured["result"]):
        return "result"
    return None


def _compact(value: Any) -> str:
    """As `ToolOutput.from_json` writes it. Where orjson would differ (NaN written as null), the
    twin test fails and both forms are masked apart: never a wrong text."""
    return serialise(value)


class MaskedChannel:
    """The client channel with what goes to the client masked like a result: log data,
    progress messages, and the requests an upstream sends it (an elicitation's message,
    a sampling request's messages). A value that cannot be masked is not sent."""

    def __init__(self, inner: ClientChannel, masker: Masker, agent: str) -> None:
        self._inner = inner
        self._masker = masker
        self._agent = agent
        self.log_level = inner.log_level
        self.wants_progress = inner.wants_progress
        self.asks_on_stream = inner.asks_on_stream

    def can_ask(self, method: str) -> bool:
        return self._inner.can_ask(method)

    def defers(self, method: str) -> bool:
        return self._inner.defers(method)

    def capabilities(self) -> Mapping[str, Any]:
        return self._inner.capabilities()

    async def progress(self, progress: float, total: float | None = None, message: str | None = None) -> None:
        if message is not None:
            message, _ = await self._masker.mask_text(self._agent, message)
        await self._inner.progress(progress, total, message)

    async def log(self, level: str, data: Any, logger: str | None = None) -> None:
        masked, _ = await self._masker.mask_json(self._agent, data)
        await self._inner.log(level, masked, logger)

    async def ask(self, method: str, params: Mapping[str, Any]) -> Mapping[str, Any]:
        masked, _ = await self._masker.mask_json(self._agent, dict(params))
        return await self._inner.ask(method, masked)
