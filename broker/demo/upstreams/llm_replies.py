"""Deterministic answers for the mock LLM provider, in OpenAI and Anthropic shapes.

Tokens are words: a prompt costs one token per whitespace-separated word of its messages,
and a reply is made of short words, one token each (so estimates are exact too). A prompt
may carry directives: `[[words=N]]` sets the reply's length (default 12), `[[delay=MS]]`
the pause between streamed chunks, `[[cut=N]]` drops the connection after N streamed chunks.
`[[echo]]` answers with the words of the last user message (as the provider received it, so a
test sees what the gateway sent), and `[[split=N]]` streams the answer in N-character pieces
instead of word by word (so a token can arrive cut in two). `[[call:NAME {json}]]` plans tool
calls (below).
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Iterator
from typing import Any

WORDS = ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliett")
_DIRECTIVE = re.compile(r"\[\[(words|delay|cut|split)=(\d+)\]\]")
_ECHO = "[[echo]]"


def texts(content: Any) -> list[str]:
    if isinstance(content, str):
        return [content]
    if isinstance(content, list):
        return [str(p.get("text", "")) for p in content if isinstance(p, dict)]
    return []


def prompt_text(body: dict[str, Any]) -> str:
    parts = texts(body.get("system"))
    for message in body.get("messages") or ():
        if isinstance(message, dict):
            parts += texts(message.get("content"))
    return " ".join(parts)


def count_tokens(text: str) -> int:
    return len(text.split())


def directives(text: str) -> dict[str, int]:
    return {name: int(value) for name, value in _DIRECTIVE.findall(text)}


def last_user_text(body: dict[str, Any]) -> str:
    for message in reversed(body.get("messages") or ()):
        if isinstance(message, dict) and message.get("role") == "user":
            return " ".join(texts(message.get("content")))
    return ""


def reply_words(body: dict[str, Any], default: int) -> list[str]:
    if _ECHO in prompt_text(body):
        said = _DIRECTIVE.sub("", last_user_text(body)).replace(_ECHO, "")
        return said.split()
    settings = directives(prompt_text(body))
    n = settings.get("words", default)
    limit = body.get("max_completion_tokens") or body.get("max_tokens")
    if isinstance(limit, int) and limit > 0:
        n = min(n, limit)
    return [WORDS[i % len(WORDS)] for i in range(n)]


def chunk_delay(body: dict[str, Any], default: float) -> float:
    delay = directives(prompt_text(body)).get("delay")
    return delay / 1000 if delay is not None else default


def cut_after(body: dict[str, Any]) -> int | None:
    return directives(prompt_text(body)).get("cut")


def pieces(body: dict[str, Any], words: list[str]) -> list[str]:
    """The streamed pieces of an answer: word by word, or every N characters with `[[split=N]]`."""
    size = directives(prompt_text(body)).get("split")
    if size:
        text = " ".join(words)
        return [text[i : i + size] for i in range(0, len(text), size)]
    return [word if i == 0 else " " + word for i, word in enumerate(words)]


def completion(body: dict[str, Any], words: list[str], prompt: int, *, usage: bool) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "id": "chatcmpl-mock",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model"),
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": " ".join(words)},
                "finish_reason": "stop",
            }
        ],
    }
    if usage:
        answer["usage"] = {
            "prompt_tokens": prompt,
            "completion_tokens": len(words),
            "total_tokens": prompt + len(words),
        }
    return answer


def completion_chunks(
    body: dict[str, Any], words: list[str], prompt: int, *, usage: bool
) -> Iterator[dict[str, Any]]:
    base = {
        "id": "chatcmpl-mock",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": body.get("model"),
    }
    with_usage = usage and bool((body.get("stream_options") or {}).get("include_usage"))
    extra: dict[str, Any] = {"usage": None} if with_usage else {}
    yield {
        **base,
        "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}],
        **extra,
    }
    for text in pieces(body, words):
        yield {**base, "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}], **extra}
    yield {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}], **extra}
    if with_usage:
        total = {
            "prompt_tokens": prompt,
            "completion_tokens": len(words),
            "total_tokens": prompt + len(words),
        }
        yield {**base, "choices": [], "usage": total}


EMBEDDING_DIMENSIONS = 64
_EMBED_WORD = re.compile(r"[a-z0-9]+")
_EMBED_STOP = frozenset(
    [
        "a",
        "an",
        "the",
        "is",
        "are",
        "was",
        "of",
        "to",
        "in",
        "on",
        "for",
        "and",
        "or",
        "me",
        "my",
        "i",
        "you",
        "your",
        "it",
        "what",
        "how",
        "please",
        "tell",
        "give",
    ]
)


def embed(text: str) -> list[float]:
    """A deterministic stand-in for an embedding model: hashed bag of (crudely stemmed) words,
    normalised, so texts sharing most words are close and unrelated texts are far apart."""
    vector = [0.0] * EMBEDDING_DIMENSIONS
    for word in _EMBED_WORD.findall(text.lower()):
        if word in _EMBED_STOP:
            continue
        stem = word[:-1] if word.endswith("s") and len(word) > 3 else word
        digest = hashlib.sha256(stem.encode()).digest()
        vector[digest[0] % EMBEDDING_DIMENSIONS] += 1.0 if digest[1] % 2 else -1.0
    norm = sum(v * v for v in vector) ** 0.5 or 1.0
    return [round(v / norm, 6) for v in vector]


def embeddings(body: dict[str, Any], *, usage: bool) -> dict[str, Any]:
    inputs = body.get("input")
    items = inputs if isinstance(inputs, list) else [inputs]
    data = [
        {"object": "embedding", "index": i, "embedding": embed(str(item))} for i, item in enumerate(items)
    ]
    answer: dict[str, Any] = {"object": "list", "data": data, "model": body.get("model")}
    if usage:
        tokens = sum(count_tokens(str(item)) for item in items)
        answer["usage"] = {"prompt_tokens": tokens, "total_tokens": tokens}
    return answer


def message(body: dict[str, Any], words: list[str], prompt: int) -> dict[str, Any]:
    return {
        "id": "msg_mock",
        "type": "message",
        "role": "assistant",
        "model": body.get("model"),
        "content": [{"type": "text", "text": " ".join(words)}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": prompt, "output_tokens": len(words)},
    }


def message_events(
    body: dict[str, Any], words: list[str], prompt: int
) -> Iterator[tuple[str, dict[str, Any]]]:
    start = {**message(body, [], prompt), "content": [], "stop_reason": None}
    start["usage"] = {"input_tokens": prompt, "output_tokens": 1}
    yield "message_start", {"type": "message_start", "message": start}
    yield (
        "content_block_start",
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    )
    for text in pieces(body, words):
        delta = {"type": "text_delta", "text": text}
        yield "content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta}
    yield "content_block_stop", {"type": "content_block_stop", "index": 0}
    delta_event = {"stop_reason": "end_turn", "stop_sequence": None}
    yield (
        "message_delta",
        {"type": "message_delta", "delta": delta_event, "usage": {"output_tokens": len(words)}},
    )
    yield "message_stop", {"type": "message_stop"}


# --- scripted tool use ----------------------------------------------------------------------
# A last user message with `[[call:NAME {json arguments}]]` directives makes the mock behave
# like a model using tools: while it has fewer tool results than directives it answers with the
# next call (NAME as offered, a function name), else with a short final answer naming the
# calls. Arguments may quote earlier results: `{{N.key}}` is the first value of `key` (at any
# depth) in the N-th tool result, `{{key}}` the same in the latest result that has it, and a
# dotted key (`{{3.current.temperature_2m}}`) a path from there.
_CALL = re.compile(r"\[\[call:([A-Za-z0-9_.-]+)\s+(\{.*?\})\]\]", re.DOTALL)
_REFERENCE = re.compile(r"\{\{(?:(\d+)\.)?([A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)*)\}\}")


def scripted_calls(body: dict[str, Any]) -> list[tuple[str, str]]:
    """The plan: the directives of the latest user text that has any (in Anthropic's shape the
    last user turn holds the tool results)."""
    if not body.get("tools"):
        return []
    for message in reversed(body.get("messages") or ()):
        if isinstance(message, dict) and message.get("role") == "user":
            found = _CALL.findall(" ".join(texts(message.get("content"))))
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
            found.append(" ".join(texts(message.get("content"))))
        elif isinstance(message.get("content"), list):
            found += [
                " ".join(texts(block.get("content")))
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
    answer = completion(body, [], prompt, usage=True)
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
    answer = message(body, [], prompt)
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
    if _ECHO in prompt_text(body):
        for message in reversed(body.get("messages") or ()):
            if not isinstance(message, dict) or message.get("role") != "user":
                continue
            said = " ".join(texts(message.get("content")))
            if _CALL.search(said):
                words += _DIRECTIVE.sub("", _CALL.sub("", said)).replace(_ECHO, "").split()
                break
    return words
