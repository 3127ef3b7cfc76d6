"""Blank secret values out of text in every form an upstream is likely to echo them in.

An upstream that reflects the request it got (a debug endpoint, an error page, a token
introspection answer) may hand back the credential the gateway injected: as sent, or
encoded. A `Scrubber` knows, for a set of secret values, each value's forms:

- as is; percent-encoded (`quote`, `quote_plus`, lower-case escapes); JSON-escaped
  (`\\uXXXX` for non-ASCII, every character `\\u`-escaped, escaped slashes);
- hex, lower and upper case;
- base64 and base64url, with and without padding, and the run of characters that encodes
  only the value when it sits at each of the three byte offsets inside a longer base64 text
  (a `user:secret` Basic pair, a JSON document, a JWT segment).

The forms are computed once per value and compiled into one Aho-Corasick automaton per set of
values (both cached), so a call pays one linear pass over the text it cleans (`bench/scrub.py`).
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable
from functools import lru_cache
from typing import Any, TypeVar
from urllib.parse import quote, quote_plus

import ahocorasick_rs

from connectors.errors import ConnectorError
from connectors.literals import literal_matches

E = TypeVar("E", bound=ConnectorError)

MASK = "***"
MIN_ENCODED = 6
"""Encoded fragments shorter than this are not blanked: too likely to match by chance."""

_B64 = (base64.b64encode, base64.urlsafe_b64encode)


def _base64_forms(raw: bytes) -> set[str]:
    forms: set[str] = set()
    for encode in _B64:
        whole = encode(raw).decode()
        forms.update((whole, whole.rstrip("=")))
        for offset in range(3):  # the value starting at byte `offset` of a 3-byte group
            encoded = encode(b"\0" * offset + raw).decode().rstrip("=")
            start = -(-8 * offset // 6)  # the first character made of the value's bits only
            end = (8 * (offset + len(raw))) // 6  # one past the last such character
            forms.add(encoded[start:end])
    return forms


def _json_forms(value: str) -> set[str]:
    escaped = json.dumps(value)[1:-1]
    every = "".join(f"\\u{ord(ch):04x}" if ord(ch) < 0x10000 else json.dumps(ch)[1:-1] for ch in value)
    return {
        escaped,
        json.dumps(value, ensure_ascii=False)[1:-1],
        escaped.replace("/", "\\/"),
        every,
        every.upper().replace("\\U", "\\u"),
    }


def _percent_forms(value: str) -> set[str]:
    forms = {quote(value, safe=""), quote(value), quote_plus(value)}
    return forms | {re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), form) for form in forms}


@lru_cache(maxsize=512)
def encoded_forms(value: str) -> frozenset[str]:
    """Every form of `value` a Scrubber blanks out (the value itself included)."""
    raw = value.encode()
    encoded = {raw.hex(), raw.hex().upper(), *_base64_forms(raw)}
    textual = {value, *_percent_forms(value), *_json_forms(value)}
    return frozenset({*textual, *(form for form in encoded if len(form) >= MIN_ENCODED)} - {""})


class Scrubber:
    """Replaces every known form of some secret values with `***`. Build it with `scrubber()`."""

    __slots__ = ("_bytes", "_text", "values")

    def __init__(self, values: frozenset[str]) -> None:
        self.values = values
        forms = sorted({form for value in values for form in encoded_forms(value)})
        longest = ahocorasick_rs.MATCHKIND_LEFTMOST_LONGEST
        self._text = ahocorasick_rs.AhoCorasick(forms, matchkind=longest) if forms else None
        self._bytes = (
            ahocorasick_rs.BytesAhoCorasick([form.encode() for form in forms], matchkind=longest)
            if forms
            else None
        )

    def __bool__(self) -> bool:
        return self._text is not None

    def __or__(self, other: Scrubber) -> Scrubber:
        return scrubber(*self.values, *other.values)

    def __repr__(self) -> str:
        return f"Scrubber({len(self.values)} values)"

    def text(self, text: str) -> str:
        if self._text is None:
            return text
        found = literal_matches(self._text, text)
        return _replaced(text, found, MASK) if found else text

    def body(self, body: bytes) -> bytes:
        """A body with every form blanked; JSON stays JSON (no form contains a bare quote
        once JSON-escaped, and a raw value never spans a string's end in practice)."""
        if self._bytes is None:
            return body
        found = self._bytes.find_matches_as_indexes(body)
        return _replaced(body, found, MASK.encode()) if found else body

    def json(self, value: Any, source: str | bytes | None = None) -> Any:
        """A JSON value with every string (keys included) cleaned. `source`, the value's JSON
        text if the caller has it, saves serialising it for the quick check: a text without
        backslashes holds every string verbatim, so no match in it means nothing to clean."""
        if self._text is None or self._bytes is None:
            return value
        text = json.dumps(value, ensure_ascii=False) if source is None else source
        if isinstance(text, str):
            if "\\" not in text and not literal_matches(self._text, text):
                return value
        elif text.find(b"\\") < 0 and not self._bytes.find_matches_as_indexes(text):  # (see jsonwire)
            return value
        return self._walk(value)

    def _walk(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            return [self._walk(item) for item in value]
        if isinstance(value, dict):
            return {self.text(key): self._walk(item) for key, item in value.items()}
        return value

    def error(self, exc: E) -> E:
        """The same error, its message cleaned (a last guard before it leaves)."""
        clean = self.text(exc.message)
        if clean != exc.message:
            exc.message = clean
            exc.args = (clean,)
        return exc


T = TypeVar("T", str, bytes)


def _replaced(text: T, found: list[tuple[int, int, int]], mask: T) -> T:
    parts: list[T] = []
    last = 0
    for _, start, end in found:
        parts += (text[last:start], mask)
        last = end
    parts.append(text[last:])
    return mask[:0].join(parts)


@lru_cache(maxsize=256)
def _scrubber(values: frozenset[str]) -> Scrubber:
    return Scrubber(values)


def scrubber(*values: str) -> Scrubber:
    """The Scrubber of these secret values (empty ones ignored), shared between calls."""
    return _scrubber(frozenset(value for value in values if value))


def scrubber_of(values: Iterable[str]) -> Scrubber:
    return scrubber(*values)


NO_SCRUB = scrubber()

__all__ = ["MASK", "NO_SCRUB", "Scrubber", "encoded_forms", "scrubber", "scrubber_of"]
