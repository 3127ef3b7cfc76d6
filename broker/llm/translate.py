"""OpenAI chat completions served by an Anthropic provider: the request, the answer and the
stream translated between the two APIs, so `model="claude-..."` works from the openai client.

Covered: system/developer messages, text and image parts, tools and tool results, tool
choice, stop sequences, sampling options, usage (cache reads count as cached prompt tokens).
Options Anthropic has no counterpart for (n, logprobs, response_format...) are dropped.
"""

from __future__ import annotations

import json
import time
from typing import Any

from broker.llm.sse import event_fields
from broker.llm.usage import Usage, anthropic_usage

FINISH = {"end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length", "tool_use": "tool_calls"}
_COPIED = ("temperature", "top_p", "top_k", "stream")


def chat_to_messages(payload: dict[str, Any], model: str, default_max_tokens: int) -> dict[str, Any]:
    """An Anthropic Messages request for an OpenAI chat completion request."""
    system: list[str] = []
    turns: list[dict[str, Any]] = []
    for message in payload.get("messages") or ():
        if not isinstance(message, dict):
            continue
        role = message.get("role")
        if role in ("system", "developer"):
            system += [part["text"] for part in _parts(message.get("content")) if part["type"] == "text"]
        elif role == "tool":
            result = {"type": "tool_result", "tool_use_id": str(message.get("tool_call_id", "")),
                      "content": _text_of(message.get("content"))}  # fmt: skip
            _append(turns, "user", [result])
        elif role in ("user", "assistant"):
            blocks = _parts(message.get("content"))
            for call in message.get("tool_calls") or ():
                function = call.get("function") or {}
                blocks.append({"type": "tool_use", "id": call.get("id"), "name": function.get("name"),
                               "input": _json_object(function.get("arguments"))})  # fmt: skip
            if blocks:
                _append(turns, role, blocks)
    out: dict[str, Any] = {"model": model, "messages": turns}
    out["max_tokens"] = (
        payload.get("max_completion_tokens") or payload.get("max_tokens") or default_max_tokens
    )
    if system:
        out["system"] = "\n\n".join(system)
    out.update({key: payload[key] for key in _COPIED if key in payload})
    stop = payload.get("stop")
    if stop:
        out["stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
    if payload.get("tools"):
        out["tools"] = [_tool(t) for t in payload["tools"] if isinstance(t, dict)]
        choice = _tool_choice(payload.get("tool_choice"))
        if choice is not None:
            out["tool_choice"] = choice
    if isinstance(payload.get("user"), str):
        out["metadata"] = {"user_id": payload["user"]}
    return out


def _append(turns: list[dict[str, Any]], role: str, blocks: list[dict[str, Any]]) -> None:
    if turns and turns[-1]["role"] == role:  # Anthropic wants turns to alternate
        turns[-1]["content"] += blocks
    else:
        turns.append({"role": role, "content": blocks})


def _parts(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    blocks: list[dict[str, Any]] = []
    for part in content or ():
        if not isinstance(part, dict):
            continue
        if part.get("type") == "text":
            blocks.append({"type": "text", "text": str(part.get("text", ""))})
        elif part.get("type") == "image_url":
            url = str((part.get("image_url") or {}).get("url", ""))
            if url.startswith("data:") and ";base64," in url:
                media, data = url[5:].split(";base64,", 1)
                blocks.append(
                    {"type": "image", "source": {"type": "base64", "media_type": media, "data": data}}
                )
            else:
                blocks.append({"type": "image", "source": {"type": "url", "url": url}})
    return blocks


def _text_of(content: Any) -> str:
    return "".join(part["text"] for part in _parts(content) if part["type"] == "text")


def _json_object(arguments: Any) -> Any:
    try:
        value = json.loads(arguments) if isinstance(arguments, str) else arguments
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _tool(tool: dict[str, Any]) -> dict[str, Any]:
    function = tool.get("function") or {}
    out = {"name": function.get("name"), "input_schema": function.get("parameters") or {"type": "object"}}
    if function.get("description"):
        out["description"] = function["description"]
    return out


def _tool_choice(choice: Any) -> dict[str, Any] | None:
    if choice in ("auto", "none"):
        return {"type": choice}
    if choice == "required":
        return {"type": "any"}
    if isinstance(choice, dict) and isinstance(choice.get("function"), dict):
        return {"type": "tool", "name": choice["function"].get("name")}
    return None


def openai_usage_of(usage: Usage) -> dict[str, Any]:
    return {
        "prompt_tokens": usage.prompt,
        "completion_tokens": usage.completion,
        "total_tokens": usage.total,
        "prompt_tokens_details": {"cached_tokens": usage.cached},
    }


def message_to_chat(message: dict[str, Any]) -> dict[str, Any]:
    """An OpenAI chat completion for an Anthropic message."""
    text: list[str] = []
    calls: list[dict[str, Any]] = []
    for block in message.get("content") or ():
        if block.get("type") == "text":
            text.append(str(block.get("text", "")))
        elif block.get("type") == "tool_use":
            function = {"name": block.get("name"), "arguments": json.dumps(block.get("input", {}))}
            calls.append({"id": block.get("id"), "type": "function", "function": function})
    reply: dict[str, Any] = {"role": "assistant", "content": "".join(text) if text or not calls else None}
    if calls:
        reply["tool_calls"] = calls
    choice = {
        "index": 0,
        "message": reply,
        "finish_reason": FINISH.get(str(message.get("stop_reason")), "stop"),
    }
    answer = {"id": message.get("id"), "object": "chat.completion", "created": int(time.time()),
              "model": message.get("model"), "choices": [choice]}  # fmt: skip
    usage = anthropic_usage(message.get("usage"))
    if usage is not None:
        answer["usage"] = openai_usage_of(usage)
    return answer


class StreamTranslator:
    """Anthropic stream events in, OpenAI chat completion chunks out (as SSE bytes)."""

    def __init__(self, *, include_usage: bool) -> None:
        self.include_usage = include_usage
        self._base: dict[str, Any] = {"object": "chat.completion.chunk", "created": int(time.time())}
        self._usage = Usage()
        self._tools: dict[int, int] = {}  # content block index -> tool call index

    def event(self, event: bytes) -> bytes:
        name, data = event_fields(event)
        if not data.startswith(b"{"):
            return b""
        body = json.loads(data)
        kind = body.get("type")
        if kind == "message_start":
            message = body.get("message") or {}
            self._base.update(id=message.get("id"), model=message.get("model"))
            self._usage = anthropic_usage(message.get("usage")) or Usage()
            return self._chunk({"role": "assistant", "content": ""})
        if kind == "content_block_start" and (body.get("content_block") or {}).get("type") == "tool_use":
            block = body["content_block"]
            index = self._tools.setdefault(int(body.get("index", 0)), len(self._tools))
            call = {"index": index, "id": block.get("id"), "type": "function",
                    "function": {"name": block.get("name"), "arguments": ""}}  # fmt: skip
            return self._chunk({"tool_calls": [call]})
        if kind == "content_block_delta":
            delta = body.get("delta") or {}
            if delta.get("type") == "text_delta":
                return self._chunk({"content": delta.get("text", "")})
            if delta.get("type") == "input_json_delta":
                index = self._tools.get(int(body.get("index", 0)), 0)
                return self._chunk(
                    {
                        "tool_calls": [
                            {"index": index, "function": {"arguments": delta.get("partial_json", "")}}
                        ]
                    }
                )
        if kind == "message_delta":
            output = (body.get("usage") or {}).get("output_tokens")
            if isinstance(output, int):
                self._usage.completion = output
            reason = FINISH.get(str((body.get("delta") or {}).get("stop_reason")), "stop")
            return self._chunk({}, finish_reason=reason)
        if kind == "message_stop":
            tail = b""
            if self.include_usage:
                tail = _sse({**self._base, "choices": [], "usage": openai_usage_of(self._usage)})
            return tail + b"data: [DONE]\n\n"
        if kind == "error" or name == b"error":
            return _sse({"error": body.get("error", body)})
        return b""

    def _chunk(self, delta: dict[str, Any], finish_reason: str | None = None) -> bytes:
        return _sse({**self._base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}]})


def _sse(value: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(value).encode() + b"\n\n"
