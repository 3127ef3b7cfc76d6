"""Python's own Unicode rules for each code point, as the tables the native injection prefilter
reads text beyond ASCII by (broker/pii/native/src/guard.rs, `Prefilter.read_unicode` for the Basic
Multilingual Plane, `read_astral` for the sixteen planes beyond it). They are built here from this
Python's `re` and `str.lower`, the very rules `reference_suspect` follows, so the two agree
whatever Unicode version Python carries.
"""

from __future__ import annotations

import re
from collections.abc import Callable

PLANE = 0x10000

# A character's class: its flags in the low four bits, then its kind (ASCII only: no other
# character is a digit, joiner, dot or space to these patterns, ignoring case or not).
KINDS = ((0x10, "[0-9]"), (0x20, "[013457]"), (0x30, "[-*+|~]"), (0x40, r"\."), (0x50, " "))
"""N (an ASCII digit), D (a leet digit: overrides N), J (a joiner), the dot, the space."""
LETTER = 1
"""`[^\\W\\d_]`: a letter to `disguises.OBFUSCATED_PARTS`' spaced and dotted parts."""
AZ = 2
"""`[a-z]` ignoring case: a letter to their leet and joined parts (ASCII, and four more)."""
BASE64 = 4
"""`[a-z0-9+/]` ignoring case: `disguises.base64_run`'s characters."""
WORD = 8
"""The character's lowering is `\\w`: around a short keyword, it joins it to a word."""
_LETTERS = re.compile(r"[^\W\d_]+")
_AZ = re.compile("[a-z]+", re.IGNORECASE)
_BASE64 = re.compile("[a-z0-9+/]+", re.IGNORECASE)
_WORDS = re.compile(r"\w+")
_ANY_CLASS = re.compile(r"[\w+/a-z0-9]", re.IGNORECASE)
"""Any character that may have a flag (`\\w` holds the letters, and is WORD where a character is
its own lowering; ignoring case only widens the class): none in a plane, no class there."""


def plane(number: int = 0) -> str:
    """Every code point of plane `number` in order, lone surrogates too (one str, no Python loop)."""
    units = bytearray(4 * PLANE)
    units[0::4] = bytes(range(256)) * 256
    units[1::4] = b"".join(bytes((high,)) * 256 for high in range(256))
    units[2::4] = bytes((number,)) * PLANE
    return units.decode("utf-32-le", "surrogatepass")


def tables(lowering: Callable[[str], str], number: int = 0) -> tuple[str, bytes]:
    """(lowered, classes) of plane `number`: `lowered[c]` is `lowering(chr(c))` (c counted from
    the plane's first code point), which must be one character for each (ValueError otherwise),
    and `classes[c]` the class of that code point."""
    chars = plane(number)
    return _tables(chars, _lowered(chars, lowering))


def astral(lowering: Callable[[str], str]) -> tuple[list[tuple[int, str, bytes]], list[int]]:
    """The planes beyond the first: (number, lowered, classes) of each that holds a character of
    any class or one `lowering` changes (planes 1, 2 and 3 in Python 3.11: letters with case,
    mathematical letters and digits, CJK), and the numbers of the others, each verified to hold
    none (unassigned and private use, and in 3.11 plane 14's tags and variation selectors).
    A lowering may cross planes: `lowered` holds whatever character it gives."""
    built: list[tuple[int, str, bytes]] = []
    empty: list[int] = []
    for number in range(1, 17):
        chars = plane(number)
        lowered = _lowered(chars, lowering)
        if lowered == chars and not _ANY_CLASS.search(chars):
            empty.append(number)
        else:
            built.append((number, *_tables(chars, lowered)))
    return built, empty


def _lowered(chars: str, lowering: Callable[[str], str]) -> str:
    lowered = lowering(chars)
    if len(lowered) != PLANE:
        raise ValueError("a character of the plane lowers to more than one")
    return lowered


def _tables(chars: str, lowered: str) -> tuple[str, bytes]:
    first = ord(chars[0])
    base64 = "".join(run.group() for run in _BASE64.finditer(chars))
    # `[a-z]` is in `[a-z0-9+/]` (the same flags): only the latter's few characters are tried
    az = "\0".join(_AZ.findall(base64))
    classes = _mask(WORD, _WORDS, lowered) | _mask(LETTER, _LETTERS, chars)
    classes |= _flagged(BASE64, base64, first) | _flagged(AZ, az, first)
    kinds = bytearray(PLANE)
    for kind, pattern in KINDS:
        for found in re.finditer(pattern, chars[:128] if first == 0 else ""):
            kinds[found.start()] = kind
    return lowered, (classes | int.from_bytes(kinds, "little")).to_bytes(PLANE, "little")


def _flagged(flag: int, chars: str, first: int) -> int:
    """`flag` at each of `chars`' code points (NUL excepted) from `first`, as the bytes of an int."""
    mask = bytearray(PLANE)
    for char in chars:
        if char != "\0":
            mask[ord(char) - first] = flag
    return int.from_bytes(mask, "little")


def _mask(flag: int, pattern: re.Pattern[str], text: str) -> int:
    """`flag` at each character `pattern` matches, as the bytes of an int (runs at a time)."""
    mask = bytearray(len(text))
    for run in pattern.finditer(text):
        start, end = run.span()
        mask[start:end] = bytes((flag,)) * (end - start)
    return int.from_bytes(mask, "little")
