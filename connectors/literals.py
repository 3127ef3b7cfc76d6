"""Aho-Corasick searches (ahocorasick_rs) that a lone surrogate cannot break.

The automaton reads a `str` as UTF-8, and a lone surrogate has none: JSON's `"\\ud800"` decodes to
one, so any upstream can put one in a result, and the search raised UnicodeEncodeError (a tool
call failed on it in the audit's injection check). Such a text is searched with each surrogate
as U+FFFD instead: one character for one, so offsets stay those of the text, and no searched
literal holds either character.
"""

from __future__ import annotations

import re

import ahocorasick_rs

_SURROGATE = re.compile("[\ud800-\udfff]")


def literal_matches(
    automaton: ahocorasick_rs.AhoCorasick, text: str, *, overlapping: bool = False
) -> list[tuple[int, int, int]]:
    """`automaton.find_matches_as_indexes(text)`: (pattern index, start, end) of each match."""
    try:
        return automaton.find_matches_as_indexes(text, overlapping=overlapping)
    except UnicodeEncodeError:
        return automaton.find_matches_as_indexes(_SURROGATE.sub("\ufffd", text), overlapping=overlapping)
