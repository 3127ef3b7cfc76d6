"""One injection signal: a named, weighted pattern over normalised (case-folded) text.

A signal may instead want two patterns near each other (`near`, in either order within `window`
characters): the first (the rarer) is found with one scan, the second looked for only around
its matches, which costs far less than one pattern with a bounded gap between two large
alternations. `gate`, when set,
lists substrings one of which the text must contain before the pattern is tried (a C-speed
`in` test that skips most texts)."""

from __future__ import annotations

import re
from dataclasses import dataclass

_NEAR_LIMIT = 200
"""Matches of each side considered (a text with more is hostile or huge; the first ones tell)."""


@dataclass(frozen=True, slots=True)
class Signal:
    name: str
    weight: float
    pattern: re.Pattern[str]
    near: re.Pattern[str] | None = None
    window: int = 60
    gate: tuple[str, ...] = ()

    def search(self, text: str) -> bool:
        if self.gate and not any(word in text for word in self.gate):
            return False
        if self.near is None:
            return self.pattern.search(text) is not None
        for _, match in zip(range(_NEAR_LIMIT), self.pattern.finditer(text), strict=False):
            begin, end = match.span()
            if self.near.search(text, max(0, begin - self.window), end + self.window) is not None:
                return True
        return False


def words(*alternatives: str) -> str:
    """An alternation of words that each start at a word boundary, written so that every branch
    begins with a literal: the regex engine then skips ahead by the set of first characters
    instead of trying every branch at every position (a leading \\b would prevent that)."""
    return "|".join(
        f"{w[0]}(?<!\\w{w[0]}){w[1:]}" if w[0].isascii() or "\u0400" <= w[0] <= "\u04ff" else w
        for w in alternatives
    )


def signal(name: str, weight: float, pattern: str, *, gate: tuple[str, ...] = ()) -> Signal:
    return Signal(name, weight, re.compile(pattern), gate=gate)


def near(
    name: str, weight: float, first: str, second: str, window: int = 60, *, gate: tuple[str, ...] = ()
) -> Signal:
    """`first` and `second` within `window` characters of each other, in either order."""
    return Signal(name, weight, re.compile(first), re.compile(second), window, gate)
