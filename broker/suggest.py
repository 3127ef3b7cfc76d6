"""'Did you mean ...?' for a mistyped field or name (difflib's close matches)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def closest(word: str, candidates: Iterable[str]) -> str | None:
    """The candidate closest to `word`, if one is close enough to be a typo of it."""
    names = [c for c in candidates if isinstance(c, str)]
    matches = difflib.get_close_matches(word, names, n=1, cutoff=0.75)
    if not matches:  # short names: one letter off weighs more (`alow` vs `allow` scores 0.89)
        matches = difflib.get_close_matches(word.lower(), [n.lower() for n in names], n=1, cutoff=0.75)
        matches = [n for n in names if matches and n.lower() == matches[0]]
    return matches[0] if matches else None


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """'; did you mean 'x'?' to append to a message, or '' when nothing is close."""
    match = closest(word, candidates)
    return f"; did you mean '{match}'?" if match is not None and match != word else ""
