"""Where the text of a model request is, in each API's shape: the places a guardrail reads and
(when it masks) writes back.

OpenAI chat: `messages[].content` (a string or parts of `{"type": "text"}`), tool results as
`role: tool`. Anthropic messages: `system` (a string or text blocks) and `messages[].content`
(a string or blocks; `tool_result` blocks carry a string or text blocks). The Responses API:
`instructions` and `input` (a string, or items with `content` parts `input_text`/`output_text`,
`function_call_output` items as tool results).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

Role = Literal["system", "user", "assistant", "tool"]
TEXT_PARTS = frozenset({"text", "input_text", "output_text"})


@dataclass(slots=True)
class Slot:
    """One string of the request: read it, and write its masked form back."""

    container: Any
    key: str | int
    role: Role

    @property
    def text(self) -> str:
        value: str = self.container[self.key]
        return value

    def write(self, text: str) -> None:
        self.container[self.key] = text


def _parts(container: Any, key: str | int, role: Role) -> Iterator[Slot]:
    value = container[key]
    if isinstance(value, str):
        yield Slot(container, key, role)
    elif isinstance(value, list):
        for part in value:
            if not isinstance(part, dict):
                continue
            kind = part.get("type")
            if kind in TEXT_PARTS and isinstance(part.get("text"), str):
                yield Slot(part, "text", role)
            elif kind == "tool_result" and "content" in part:
                yield from _parts(part, "content", "tool")


def _role(value: Any) -> Role:
    if value in ("system", "developer"):
        return "system"
    if value in ("assistant", "tool"):
        return value  # type: ignore[no-any-return]
    return "user"


def slots(payload: dict[str, Any]) -> list[Slot]:
    """Every text of a chat completions, messages or responses request, with its role."""
    found: list[Slot] = []
    if "system" in payload:
        found.extend(_parts(payload, "system", "system"))
    if isinstance(payload.get("instructions"), str):
        found.append(Slot(payload, "instructions", "system"))
    messages = payload.get("messages")
    if isinstance(messages, list):
        for message in messages:
            if isinstance(message, dict) and "content" in message:
                found.extend(_parts(message, "content", _role(message.get("role"))))
    items = payload.get("input")
    if isinstance(items, str):
        found.append(Slot(payload, "input", "user"))
    elif isinstance(items, list):
        for item in items:
            if not isinstance(item, dict):
                continue
            if item.get("type") == "function_call_output" and "output" in item:
                found.extend(_parts(item, "output", "tool"))
            elif "content" in item:
                found.extend(_parts(item, "content", _role(item.get("role"))))
    return found
