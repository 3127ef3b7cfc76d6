"""Deterministic answers for the mock LLM provider, in OpenAI and Anthropic shapes.

Tokens are words: a prompt costs one token per whitespace-separated word of its messages,
and a reply is made of short words, one token each (so estimates are exact too). A prompt
may carry directives: `[[words=N]]` sets the reply's length (default 12), `[[delay=MS]]`
the pause between streamed chunks, `[[cut=N]]` drops the connection after N streamed chunks.
`[[echo]]` answers with the words of the last user message (as the provider received it, so a
test sees what the gateway sent), and `[[split=N]]` streams the answer in N-character pieces
instead of word by word (so a token can arrive cut in two). `[[call:NAME {json}]]` plans tool
calls (`llm_tool_use.py`).
"""

from __future__ import annotations

import hashlib
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


def echoes(body: dict[str, Any]) -> bool:
    """Whether the prompt asks for `[[echo]]`."""
    return _ECHO in prompt_text(body)


def said_words(text: str) -> list[str]:
    """The words of a user's text that are not directives."""
    return _DIRECTIVE.sub("", text).replace(_ECHO, "").split()


def reply_words(body: dict[str, Any], default: int) -> list[str]:
    if echoes(body):
        return said_words(last_user_text(body))
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
