"""MaskPII: personal data and secrets masked on the way back, the agent's own tokens resolved on the way in.

Inbound, an argument holding one of this agent's tokens (`<EMAIL_ADDRESS_7f3a9c21>`) gets
the real value back when the agent's masking lists the tool in `resolve_tokens_for`; a token
the agent cannot resolve (unknown, expired, another agent's) fails the call as
`unknown_token` before anything goes upstream. The resolved values exist only from here to
the upstream: stages outside (Audit, Cache) see the arguments as the agent sent them.

Outbound, the result (content and structured content, error results too) and the text of
upstream errors are masked per the agent's policy. Counts of masked entities by type go to
`ToolCall.masked` (the audit record) and `broker_pii_masked_total{entity}`. A result that
cannot be masked (the token vault is down) is withheld, never sent unmasked.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

from broker.errors import ToolCallError
from broker.metrics import Metrics
from broker.pii import Counts, Masker, UnknownToken, scrub
from broker.pii.keys import MaskingFailed
from broker.pii.masker import OFF_LOOP_CHARS, maybe_in_thread
from broker.pii.maskers import Maskers
from broker.pii.plan import masking_plan
from broker.pipeline.call import Next, ToolCall
from connectors.base import ToolOutput

log = logging.getLogger("broker.pii")


class MaskPII:
    def __init__(self, maskers: Maskers, metrics: Metrics) -> None:
        self._maskers = maskers
        self._counter = metrics.pii_masked
        self._seconds = metrics.pii_mask_seconds

    async def __call__(self, call: ToolCall, call_next: Next) -> ToolOutput:
        started = time.perf_counter()
        masker = self._maskers.for_plan(masking_plan(call.snapshot.policy_set, call.agent.subject))
        agent = call.agent.id  # tokens belong to the agent's id: a re-created agent starts afresh
        original = call.arguments
        call.arguments = await _resolve(masker, agent, call)
        spent = time.perf_counter() - started
        try:
            output = await call_next(call)
        except ToolCallError as exc:
            started = time.perf_counter()
            await self._mask_error(masker, agent, call, exc)
            self._seconds.observe(spent + time.perf_counter() - started)
            raise
        finally:
            call.arguments = original
        started = time.perf_counter()
        try:
            content, structured, counts = await _mask_output(masker, agent, output)
        except Exception:
            log.exception("could not mask the result of %s; it is withheld", call.tool_name)
            raise MaskingFailed(
                f"the gateway could not mask the result of {call.tool_name}, so it is withheld; "
                "try again shortly"
            ) from None
        self._count(call, counts)
        self._seconds.observe(spent + time.perf_counter() - started)
        return dataclasses.replace(output, content=content, structured=structured)

    async def _mask_error(self, masker: Masker, agent: str, call: ToolCall, exc: ToolCallError) -> None:
        """Upstream error text (an error body, an echoed request) masked like a result."""
        try:
            message, counts = await masker.mask_text(agent, exc.message)
        except Exception:  # no tokens without the vault: every entity replaced by its type
            message, counts = scrub(exc.message), {}
        if message != exc.message:  # the audit keeps `audit_message`, which Audit scrubs
            exc.message = message
            exc.args = (message,)
        self._count(call, counts)

    def _count(self, call: ToolCall, counts: dict[str, int]) -> None:
        if not counts:
            return
        call.masked = counts
        for entity, count in counts.items():
            self._counter.labels(entity).inc(count)


async def _resolve(masker: Masker, agent: str, call: ToolCall) -> dict[str, Any]:
    """The arguments with the agent's tokens resolved, when the tool may have the values."""
    try:
        resolved: dict[str, Any] = await masker.resolve_arguments(agent, call.tool_name, call.arguments)
    except UnknownToken:
        raise
    except Exception:
        log.exception("could not resolve PII tokens for %s", call.tool_name)
        raise MaskingFailed("the gateway cannot resolve PII tokens now; try again shortly") from None
    return resolved


async def _mask_output(
    masker: Masker, agent: str, output: ToolOutput
) -> tuple[list[dict[str, Any]], dict[str, Any] | None, Counts]:
    """Masked content and structured content. A result whose one text block is the compact JSON
    of its structured content (`ToolOutput.from_json`, every http/openapi/sql result) is masked
    once and the text re-serialised from it: half the work, and the two forms agree."""
    size = _text_size(output.content)
    off_loop = size >= OFF_LOOP_CHARS  # a big result is handled in a worker thread: the loop goes on
    shape = await maybe_in_thread(off_loop, _json_twin, output.content, output.structured)
    if shape is None or output.structured is None:
        return await masker.mask_result(agent, output.content, output.structured)
    structured, counts = await masker.mask_json(agent, dict(output.structured), size=size)
    masked = structured["result"] if shape == "result" else structured
    text = await maybe_in_thread(off_loop, _compact, masked)
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
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
