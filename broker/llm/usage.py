"""Token usage: read from provider answers (OpenAI and Anthropic shapes), or estimated.

Stream meters see each event as it is delivered and keep what is needed to charge a stream
cut off half-way: the provider's usage when it came, else an estimate of the delivered text.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from broker.llm.sse import event_fields
from broker.llm.tokens import estimate_text


@dataclass(slots=True)
class Usage:
    prompt: int = 0
    completion: int = 0
    cached: int = 0
    estimated: bool = False

    @property
    def total(self) -> int:
        return self.prompt + self.completion


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def openai_usage(body: Any) -> Usage | None:
    """`usage` of a chat completion, a stream's last chunk, or an embeddings answer."""
    usage = body.get("usage") if isinstance(body, dict) else None
    if not isinstance(usage, dict):
        return None
    details = usage.get("prompt_tokens_details")
    cached = _int(details.get("cached_tokens")) if isinstance(details, dict) else 0
    return Usage(
        prompt=_int(usage.get("prompt_tokens")),
        completion=_int(usage.get("completion_tokens")),
        cached=cached,
    )


def anthropic_usage(usage: Any) -> Usage | None:
    """An Anthropic `usage` object; prompt tokens include cache reads and writes."""
    if not isinstance(usage, dict):
        return None
    cached = _int(usage.get("cache_read_input_tokens"))
    prompt = _int(usage.get("input_tokens")) + cached + _int(usage.get("cache_creation_input_tokens"))
    return Usage(prompt=prompt, completion=_int(usage.get("output_tokens")), cached=cached)


def openai_completion_text(body: Any) -> str:
    """The generated text of a non-streaming chat completion (for estimates)."""
    parts: list[str] = []
    for choice in body.get("choices") or () if isinstance(body, dict) else ():
        message = choice.get("message") if isinstance(choice, dict) else None
        if isinstance(message, dict):
            parts += [str(message.get(k)) for k in ("content", "tool_calls") if message.get(k)]
    return "".join(parts)


class OpenAIStreamMeter:
    """Chat completion chunks. With `strip_usage`, the usage-only chunk the gateway asked for
    on the client's behalf is not forwarded (clients that did not ask do not expect it).

    Only a chunk that carries usage is parsed on the way; the others are kept as they are and
    read only if the provider never reports usage (the delivered text is then estimated)."""

    def __init__(self, *, strip_usage: bool) -> None:
        self.strip_usage = strip_usage
        self.usage: Usage | None = None
        self._data: list[bytes] = []

    def event(self, event: bytes) -> bool:
        """Look at one event; returns whether to forward it."""
        _, data = event_fields(event)
        if b'"usage"' not in data or b'"usage": null' in data or b'"usage":null' in data:
            self._data.append(data)
            return True
        try:
            chunk = json.loads(data)
        except ValueError:
            return True
        found = openai_usage(chunk)
        if found is None:
            self._data.append(data)
            return True
        self.usage = found
        return not (self.strip_usage and not chunk.get("choices"))

    def delivered_text(self) -> str:
        parts: list[str] = []
        for data in self._data:
            if data[:1] != b"{":
                continue
            try:
                chunk = json.loads(data)
            except ValueError:
                continue
            for choice in chunk.get("choices") or ():
                delta = choice.get("delta") if isinstance(choice, dict) else None
                if isinstance(delta, dict):
                    parts += [
                        str(delta[k]) for k in ("content", "tool_calls", "reasoning_content") if delta.get(k)
                    ]
        return "".join(parts)


class AnthropicStreamMeter:
    """Messages API events: `message_start` carries input usage, `message_delta` the output so far."""

    def __init__(self) -> None:
        self.usage: Usage | None = None
        self._text: list[str] = []
        self._output_reported = False

    def event(self, event: bytes) -> bool:
        _, data = event_fields(event)
        if data[:1] != b"{":
            return True
        try:
            body = json.loads(data)
        except ValueError:
            return True
        kind = body.get("type")
        if kind == "message_start" and isinstance(body.get("message"), dict):
            self.usage = anthropic_usage(body["message"].get("usage")) or Usage()
        elif kind == "message_delta" and isinstance(body.get("usage"), dict):
            usage = self.usage or Usage()
            output = body["usage"].get("output_tokens")
            if isinstance(output, int):
                usage.completion, self._output_reported = output, True
            self.usage = usage
        elif kind == "content_block_delta" and isinstance(body.get("delta"), dict):
            delta = body["delta"]
            self._text += [str(delta[k]) for k in ("text", "partial_json", "thinking") if delta.get(k)]
        return True

    def delivered_text(self) -> str:
        return "".join(self._text)

    @property
    def complete(self) -> bool:
        """Whether the provider reported the output tokens (else the delivered text is estimated)."""
        return self._output_reported


def completed(usage: Usage | None, prompt_estimate: Callable[[], int], delivered: Callable[[], str]) -> Usage:
    """The usage to charge: the provider's when it reported it, else estimates (computed only then)."""
    if usage is None:
        return Usage(prompt=prompt_estimate(), completion=estimate_text(delivered()), estimated=True)
    return usage


def anthropic_stream_usage(meter: AnthropicStreamMeter, prompt_estimate: Callable[[], int]) -> Usage:
    """What an Anthropic stream used: input from `message_start`, output from the last
    `message_delta`, or, for a stream cut off before it, an estimate of the text delivered."""
    usage = meter.usage or Usage(prompt=prompt_estimate(), estimated=True)
    if not meter.complete:
        usage.completion = max(usage.completion, estimate_text(meter.delivered_text()))
        usage.estimated = True
    return usage
