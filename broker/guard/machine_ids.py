"""Machine ids in a text (UUIDs, hex digests), taken out before the injection prefilter looks.

Their hex digits read as leetspeak ('b3f': a letter, a leet digit, a letter) and as base64 runs,
so any tool result holding a UUID was suspect and paid the full score: ~2.4 ms on the event loop
per 2 KB of REST records, ~21 ms per 64 KB in a worker thread. The model reads no phrase in them,
and the few words that hex letters and leet digits can spell ('dec0de') say nothing alone.
"""

from __future__ import annotations

import re
import string

HEX_ID = re.compile(
    r"(?<![0-9A-Za-z_])"
    r"(?:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|[0-9a-fA-F]{16,})"
    r"(?![0-9A-Za-z_])"
)
"""A UUID, or a run of 16 or more hex digits (a SHA digest, an ObjectId, a trace id), as a word
of its own (a PII token's id follows its `_`: `broker.guard.injection._without_token_ids`)."""

_WORD = frozenset(string.ascii_letters + string.digits + "_")
_CLASSES = bytes(
    ord("h") if chr(c) in string.hexdigits else ord("w") if chr(c) in _WORD else ord(" ") for c in range(256)
)
_START = b" hhhhhhhh"
"""Where a `HEX_ID` can start in the classes of an ASCII text: eight hex digits after a character
that is not a word's (or at the start of the text)."""


def without_machine_ids(text: str) -> str:
    """The text with each `HEX_ID` a space (the text itself when it holds none). ASCII text is
    matched only where eight hex digits begin a word (found by `find` in its classes): the regex
    alone tried every position, ~2 ms per 64 KB, and JSON's numbers of 8 digits or more (ids,
    timestamps) are such places too, so every text with one paid it."""
    if not text.isascii():
        return HEX_ID.sub(" ", text)
    classes = text.encode("ascii").translate(_CLASSES)
    pieces: list[str] = []
    done = 0
    at = 0 if classes.startswith(_START[1:]) else _next_start(classes, 1)
    while at >= 0:
        match = HEX_ID.match(text, at)
        if match is None:
            at = _next_start(classes, at + 1)
            continue
        pieces += (text[done:at], " ")
        done = match.end()
        at = _next_start(classes, done)
    if not pieces:
        return text
    pieces.append(text[done:])
    return "".join(pieces)


def _next_start(classes: bytes, at: int) -> int:
    """The first place from `at` on where a `HEX_ID` can start (-1: none)."""
    found = classes.find(_START, at - 1)
    return found + 1 if found >= 0 else -1
