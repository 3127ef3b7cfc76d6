"""Token estimates, for when a provider reports no usage (and for reservations).

No tokenizer is bundled: tiktoken downloads its BPE files from the internet at run time, and
the gateway must work offline. The estimate follows how BPE tokenizers of the GPT family split
text (a word with its leading space is one token up to ~7 letters, then one per ~6 more;
digits in groups of three; each punctuation mark and each non-Latin character one token).
It is within ~15% on English prose and code; ledger rows built from it are marked `estimated`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

_PIECES = re.compile(r"[A-Za-z]+|[0-9]{1,3}|[^\x00-\x7f]|[^\sA-Za-z0-9]|\n+")
MESSAGE_OVERHEAD = 4
"""Tokens each chat message costs beyond its text (role and separators)."""
REPLY_OVERHEAD = 3


def estimate_text(text: str) -> int:
    count = 0
    for match in _PIECES.finditer(text):
        piece = match.group()
        if piece[0].isalpha() and piece.isascii():
            count += 1 + max(0, len(piece) - 7) // 6
        else:
            count += 1
    return count


def texts_of(content: Any) -> Iterable[str]:
    """The text parts of a message content: a string, or a list of parts (OpenAI or Anthropic)."""
    if isinstance(content, str):
        yield content
    elif isinstance(content, list):
        for part in content:
            if isinstance(part, dict):
                text = part.get("text")
                if isinstance(text, str):
                    yield text
                elif isinstance(part.get("content"), str | list):  # tool results
                    yield from texts_of(part["content"])


def estimate_messages(messages: Any, system: Any = None) -> int:
    """Prompt tokens of a chat request's messages (and an Anthropic-style system prompt)."""
    total = REPLY_OVERHEAD + sum(estimate_text(t) for t in texts_of(system))
    if isinstance(messages, list):
        for message in messages:
            if isinstance(message, dict):
                total += MESSAGE_OVERHEAD + sum(estimate_text(t) for t in texts_of(message.get("content")))
                for call in message.get("tool_calls") or ():
                    if isinstance(call, dict):
                        total += estimate_text(str(call.get("function", "")))
    return total


def estimate_input(value: Any) -> int:
    """Prompt tokens of an embeddings request's `input` (a string or a list of strings)."""
    if isinstance(value, str):
        return estimate_text(value)
    if isinstance(value, list):
        return sum(
            estimate_text(v) if isinstance(v, str) else len(v) if isinstance(v, list) else 1 for v in value
        )
    return 0


def reservation_tokens(body_size: int) -> int:
    """A cheap upper estimate of the prompt from the request size (about 3 bytes per token),
    used for reservations so large prompts cost no scanning on the hot path."""
    return body_size // 3 + 1
