"""The model's answer on its way back: output rules applied, the agent's PII tokens put back.

`TextFilter` takes the text of one answer channel (a choice, a content block) piece by piece,
as a stream delivers it, and returns what may go to the client now. It holds back the tail
that could still change: the start of a token (`<EMAIL_ADDRESS_7f3a`) whose end has not
arrived, and, while output rules look for PII or secrets, the last few dozen characters, so
an entity split across two chunks is seen whole. Order matters: the rules judge the model's
own text (a token is not PII), then the tokens are replaced by their values.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from broker.guard.topics import TopicMatcher
from broker.guard.verdicts import OutputBlocked, Verdict
from broker.llm.errors import GuardrailBlocked
from broker.llm.relay import StreamCut
from broker.pii.detector import Detector
from broker.pii.vault import TOKEN

HOLD = 64
"""Characters kept back while output rules scan, so an entity split by the stream is seen whole."""
TOKEN_START = re.compile(r"<(?:[A-Z][A-Z0-9_]{0,39}(?:_[0-9a-f]{0,32})?)?$")
TOPIC_EVERY = 200
"""Characters of new text between two topic checks of a streamed answer."""


@dataclass(slots=True)
class OutputPlan:
    """What happens to the answers of one call."""

    restore: Mapping[str, str] = field(default_factory=dict)
    """Token → value, for the tokens the prompt was masked with."""
    detector: Detector | None = None
    pii: str = "off"
    secrets: str = "off"
    topics: TopicMatcher | None = None
    topic_action: str = "off"
    verdicts: list[Verdict] = field(default_factory=list)

    @property
    def active(self) -> bool:
        return bool(self.restore) or self.detector is not None or self.topics is not None

    def record(self, verdict: Verdict) -> None:
        if all(v.rule != verdict.rule or v.where != verdict.where for v in self.verdicts):
            self.verdicts.append(verdict)


class TextFilter:
    def __init__(self, plan: OutputPlan) -> None:
        self.plan = plan
        self.pending = ""
        self.seen: list[str] = []
        self.unchecked = 0

    def feed(self, text: str) -> str:
        if not text:
            return ""
        self.pending += text
        self.unchecked += len(text)
        self._check_topics(final=False)
        return self._emit(final=False)

    def flush(self) -> str:
        self._check_topics(final=True)
        return self._emit(final=True)

    def _emit(self, *, final: bool) -> str:
        plan, pending = self.plan, self.pending
        cut = len(pending)
        spans = plan.detector.find(pending) if plan.detector is not None else []
        if not final:
            if plan.restore:
                start = TOKEN_START.search(pending[-80:])
                if start is not None:
                    cut = len(pending) - 80 + start.start() if len(pending) > 80 else start.start()
            if plan.detector is not None:
                cut = min(cut, max(0, len(pending) - HOLD))
                for begin, end, _entity, _score in spans:
                    if begin < cut < end:
                        cut = begin
        out, self.pending = pending[:cut], pending[cut:]
        spans = [s for s in spans if s[1] <= cut]
        out = self._apply_rules(out, spans)
        self.seen.append(out)
        if plan.restore and out:
            out = TOKEN.sub(lambda m: plan.restore.get(m.group(), m.group()), out)
        return out

    def _apply_rules(self, text: str, spans: list[tuple[int, int, str, float]]) -> str:
        plan = self.plan
        if not spans:
            return text
        pieces, last = [], 0
        for begin, end, entity, _score in spans:
            action = plan.secrets if entity == "SECRET" else plan.pii
            if action == "off":
                continue
            rule = "output.secrets" if entity == "SECRET" else "output.pii"
            verdict = Verdict(rule, action, "answer", detail=entity)
            if action == "block":
                plan.record(verdict)
                raise OutputBlocked(verdict, f"the answer contained {_article(entity)} ({rule} blocks it)")
            plan.record(verdict)
            if action == "mask":
                pieces.append(text[last:begin])
                pieces.append(f"<{entity}>")
                last = end
        pieces.append(text[last:])
        return "".join(pieces)

    def _check_topics(self, *, final: bool) -> None:
        plan = self.plan
        if plan.topics is None or (not final and self.unchecked < TOPIC_EVERY):
            return
        self.unchecked = 0
        for match in plan.topics.match("".join(self.seen) + self.pending):
            verdict = Verdict(f"topic:{match.topic}", plan.topic_action, "answer", score=match.similarity)
            plan.record(verdict)
            if plan.topic_action == "block":
                raise OutputBlocked(verdict, f"the answer falls under the denied topic '{match.topic}'")


def _article(entity: str) -> str:
    name = entity.replace("_", " ").lower()
    return f"an {name}" if name[:1] in "aeiou" else f"a {name}"


# --- the APIs' answer shapes ----------------------------------------------------------------


def filter_openai_body(body: Any, plan: OutputPlan) -> Any:
    for choice in body.get("choices") or []:
        message = choice.get("message") if isinstance(choice, dict) else None
        if isinstance(message, dict) and isinstance(message.get("content"), str):
            text = TextFilter(plan)
            message["content"] = text.feed(message["content"]) + text.flush()
    return body


def filter_anthropic_body(body: Any, plan: OutputPlan) -> Any:
    for block in body.get("content") or []:
        if isinstance(block, dict) and block.get("type") == "text" and isinstance(block.get("text"), str):
            text = TextFilter(plan)
            block["text"] = text.feed(block["text"]) + text.flush()
    return body


def _data(event: bytes) -> tuple[bytes, Any] | None:
    """The event's lines before `data:`, and its decoded JSON data (None for other events)."""
    head, sep, data = event.partition(b"data: ")
    if not sep:
        return None
    try:
        return head, json.loads(data)
    except ValueError:
        return None


def _event(head: bytes, data: Any) -> bytes:
    return head + b"data: " + json.dumps(data, separators=(",", ":")).encode() + b"\n\n"


def _cut_openai(blocked: OutputBlocked) -> StreamCut:
    error = {"message": blocked.message, "type": "invalid_request_error", "param": None,
             "code": "guardrail_blocked", "guardrail": blocked.verdict.as_dict()}  # fmt: skip
    return StreamCut(_event(b"", {"error": error}), "guardrail_blocked", blocked.message)


def _cut_anthropic(blocked: OutputBlocked) -> StreamCut:
    error = {"type": "invalid_request_error", "message": blocked.message, "code": "guardrail_blocked",
             "guardrail": blocked.verdict.as_dict()}  # fmt: skip
    return StreamCut(_event(b"event: error\n", {"type": "error", "error": error}), "guardrail_blocked",
                     blocked.message)  # fmt: skip


class OpenAIStreamFilter:
    """Chat completion chunks (`data: {...}`), one TextFilter per choice; a block cuts the stream
    with an error event naming the rule."""

    def __init__(self, plan: OutputPlan) -> None:
        self.plan = plan
        self.filters: dict[int, TextFilter] = {}

    def __call__(self, event: bytes) -> bytes:
        found = _data(event)
        if found is None or not isinstance(found[1], dict):
            return event
        head, data = found
        try:
            for choice in data.get("choices") or []:
                delta = choice.get("delta") if isinstance(choice, dict) else None
                if not isinstance(delta, dict):
                    continue
                text = self.filters.setdefault(int(choice.get("index") or 0), TextFilter(self.plan))
                content = text.feed(delta["content"]) if isinstance(delta.get("content"), str) else ""
                if choice.get("finish_reason"):
                    content += text.flush()
                if "content" in delta or content:
                    delta["content"] = content
        except OutputBlocked as blocked:
            raise _cut_openai(blocked) from None
        return _event(head, data)


class AnthropicStreamFilter:
    """Messages stream events: text deltas filtered per content block, held text sent before its
    stop; a block cuts the stream with an error event naming the rule."""

    def __init__(self, plan: OutputPlan) -> None:
        self.plan = plan
        self.filters: dict[int, TextFilter] = {}

    def __call__(self, event: bytes) -> bytes:
        found = _data(event)
        if found is None or not isinstance(found[1], dict):
            return event
        head, data = found
        kind, index = data.get("type"), int(data.get("index") or 0)
        try:
            if kind == "content_block_delta" and isinstance(data.get("delta"), dict):
                delta = data["delta"]
                if delta.get("type") == "text_delta" and isinstance(delta.get("text"), str):
                    delta["text"] = self.filters.setdefault(index, TextFilter(self.plan)).feed(delta["text"])
                    return _event(head, data)
            elif kind == "content_block_stop" and index in self.filters:
                held = self.filters.pop(index).flush()
                if held:
                    delta_event = {"type": "content_block_delta", "index": index,
                                   "delta": {"type": "text_delta", "text": held}}  # fmt: skip
                    return _event(b"event: content_block_delta\n", delta_event) + event
        except OutputBlocked as blocked:
            raise _cut_anthropic(blocked) from None
        return event


def guard_stream(
    plan: OutputPlan | None, dialect: str, inner: Callable[[bytes], bytes] | None = None
) -> Callable[[bytes], bytes] | None:
    """A stream's `translate`: `inner` (a translation between APIs) then the output filter."""
    if plan is None:
        return inner
    filtered = OpenAIStreamFilter(plan) if dialect == "openai" else AnthropicStreamFilter(plan)
    if inner is None:
        return filtered

    def both(event: bytes) -> bytes:
        translated = inner(event)
        return b"".join(filtered(e + b"\n\n") for e in translated.split(b"\n\n") if e.strip())

    return both


def guard_render(
    plan: OutputPlan | None, dialect: str, inner: Callable[[Any], Any] | None = None
) -> Callable[[Any], Any] | None:
    """A whole answer's `render`: `inner` then the output filter; a block becomes a 400."""
    if plan is None:
        return inner
    apply = filter_openai_body if dialect == "openai" else filter_anthropic_body

    def render(body: Any) -> Any:
        rendered = inner(body) if inner is not None else body
        try:
            return apply(rendered, plan)
        except OutputBlocked as blocked:
            raise GuardrailBlocked(str(blocked), blocked.verdict.as_dict()) from None

    return render
