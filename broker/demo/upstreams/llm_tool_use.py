"""The mock LLM provider's scripted tool use, in OpenAI and Anthropic shapes.

A last user message with `[[call:NAME {json arguments}]]` directives makes the mock behave
like a model using tools: while it has fewer tool results than directives it answers with the
next call (NAME as offered, a function name), else with a short final answer naming the
calls. Arguments may quote earlier results: `{{N.key}}` is the first value of `key` (at any
depth) in the N-th tool result, `{{key}}` the same in the latest result that has it, and a
dotted key (`{{3.current.temperature_2m}}`) a path from there.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from typing import Any

from broker.demo.upstreams import llm_replies as replies

_CALL = re.compile(r"\[\[call:([A-Za-z0-9_.-]+)\s+(\{.*?\})\]\]", re.DOTALL)
_REFERENCE = re.compile(r"\{\{(?:(\d+)\.)?([A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)*)\}\}")


def scripted_calls(body: dict[str, Any]) -> list[tuple[str, str]]:
    """The plan: the directives of the latest user text that has any (in Anthropic's shape the
    last user turn holds the tool results)."""
    if not body.get("tools"):
        return []
    for message in reversed(body.get("messages") or ()):
        if isinstance(message, dict) and message.get("role") == "user":
            found = _CALL.findall(" ".join(replies.texts(message.get("content"))))
            if found:
                return found
    return []


def _find(value: Any, key: str) -> Any:
    """The first value of `key` at any depth; a dotted `key` (`current.temperature_2m`) is a path
    whose first step may be at any depth."""
    first, _, rest = key.partition(".")
    if rest and isinstance(value, dict) and isinstance(value.get(first), dict):
        found = _find_path(value[first], rest)
        if found is not None:
            return found
    if isinstance(value, dict):
        if not rest and key in value and not isinstance(value[key], dict | list):
            return value[key]
        children: Any = value.values()
    elif isinstance(value, list):
        children = value
    else:
        return None
    for child in children:
        found = _find(child, key)
        if found is not None:
            return found
    return None


def _find_path(value: Any, path: str) -> Any:
    for step in path.split("."):
        if not isinstance(value, dict) or step not in value:
            return None
        value = value[step]
    return None if isinstance(value, dict | list) else value


def tool_results(body: dict[str, Any]) -> list[Any]:
    """The tool results so far: `tool` messages (OpenAI) or `tool_result` blocks (Anthropic)."""
    found: list[str] = []
    for message in body.get("messages") or ():
        if not isinstance(message, dict):
            continue
        if message.get("role") == "tool":
            found.append(" ".join(replies.texts(message.get("content"))))
        elif isinstance(message.get("content"), list):
            found += [
                " ".join(replies.texts(block.get("content")))
                for block in message["content"]
                if isinstance(block, dict) and block.get("type") == "tool_result"
            ]
    results: list[Any] = []
    for text in found:
        try:
            results.append(json.loads(text))
        except ValueError:
            results.append(text)
    return results


def next_tool_call(body: dict[str, Any]) -> dict[str, Any] | None:
    """The next scripted call as an OpenAI tool call, or None when every call has its result."""
    script, results = scripted_calls(body), tool_results(body)
    if len(results) >= len(script):
        return None
    name, arguments = script[len(results)]

    def quote(match: re.Match[str]) -> str:
        index, key = match.group(1), match.group(2)
        pool = [results[int(index) - 1]] if index and int(index) <= len(results) else list(reversed(results))
        for result in pool:
            found = _find(result, key)
            if found is not None:
                return str(found)
        return ""

    return {
        "id": f"call_{len(results) + 1}",
        "type": "function",
        "function": {"name": name, "arguments": _REFERENCE.sub(quote, arguments)},
    }


def tool_call_completion(body: dict[str, Any], call: dict[str, Any], prompt: int) -> dict[str, Any]:
    answer = replies.completion(body, [], prompt, usage=True)
    choice = answer["choices"][0]
    choice["message"] = {"role": "assistant", "content": None, "tool_calls": [call]}
    choice["finish_reason"] = "tool_calls"
    answer["usage"]["completion_tokens"] = answer["usage"]["total_tokens"] - prompt + 8
    answer["usage"]["total_tokens"] = prompt + 8
    return answer


def tool_call_chunks(body: dict[str, Any], call: dict[str, Any], prompt: int) -> Iterator[dict[str, Any]]:
    """The scripted call as a chat completion stream."""
    base = {"id": "chatcmpl-mock", "object": "chat.completion.chunk", "created": int(time.time()),
            "model": body.get("model")}  # fmt: skip
    delta = {"role": "assistant", "content": None, "tool_calls": [{"index": 0, **call}]}
    yield {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}
    yield {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]}
    if (body.get("stream_options") or {}).get("include_usage"):
        usage = {"prompt_tokens": prompt, "completion_tokens": 8, "total_tokens": prompt + 8}
        yield {**base, "choices": [], "usage": usage}


def tool_use_events(
    body: dict[str, Any], call: dict[str, Any], prompt: int
) -> Iterator[tuple[str, dict[str, Any]]]:
    """The scripted call as a Messages event stream."""
    answer = tool_use_message(body, call, prompt)
    block = answer["content"][0]
    start = {
        **answer,
        "content": [],
        "stop_reason": None,
        "usage": {"input_tokens": prompt, "output_tokens": 1},
    }
    yield "message_start", {"type": "message_start", "message": start}
    yield "content_block_start", {"type": "content_block_start", "index": 0,
                                  "content_block": {**block, "input": {}}}  # fmt: skip
    delta = {"type": "input_json_delta", "partial_json": json.dumps(block["input"])}
    yield "content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta}
    yield "content_block_stop", {"type": "content_block_stop", "index": 0}
    stop = {"stop_reason": "tool_use", "stop_sequence": None}
    yield "message_delta", {"type": "message_delta", "delta": stop, "usage": {"output_tokens": 8}}
    yield "message_stop", {"type": "message_stop"}


def tool_use_message(body: dict[str, Any], call: dict[str, Any], prompt: int) -> dict[str, Any]:
    """The scripted call as an Anthropic message with a `tool_use` block."""
    answer = replies.message(body, [], prompt)
    function = call["function"]
    block = {"type": "tool_use", "id": f"toolu_{call['id']}", "name": function["name"],
             "input": json.loads(function["arguments"])}  # fmt: skip
    answer.update(content=[block], stop_reason="tool_use")
    answer["usage"]["output_tokens"] = 8
    return answer


def final_words(body: dict[str, Any]) -> list[str]:
    """After scripted calls: a short answer naming them, then (with `[[echo]]`) the words of the
    user's message that are not directives, as the provider received them."""
    names = [name for name, _ in scripted_calls(body)]
    words = ["Done:", *names] if names else []
    if replies.echoes(body):
        for message in reversed(body.get("messages") or ()):
            if not isinstance(message, dict) or message.get("role") != "user":
                continue
            said = " ".join(replies.texts(message.get("content")))
            if _CALL.search(said):
                words += replies.said_words(_CALL.sub("", said))
                break
    return words
