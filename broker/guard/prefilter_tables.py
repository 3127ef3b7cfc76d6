"""Python's own Unicode rules for each character of the Basic Multilingual Plane, as the tables
the native injection prefilter reads text beyond ASCII by (broker/pii/native/src/guard.rs,
`Prefilter.read_unicode`). They are built here from this Python's `re` and `str.lower`, the very
rules `reference_suspect` follows, so the two agree whatever Unicode version Python carries.
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


def plane() -> str:
    """Every code point of the plane in order, lone surrogates too (one str, no Python loop)."""
    units = bytearray(4 * PLANE)
    units[0::4] = bytes(range(256)) * 256
    units[1::4] = b"".join(bytes((high,)) * 256 for high in range(256))
    return units.decode("utf-32-le", "surrogatepass")


def tables(lowering: Callable[[str], str]) -> tuple[str, bytes]:
    """(lowered, classes) of the plane: `lowered[c]` is `lowering(chr(c))`, which must be one
    character for each (ValueError otherwise), and `classes[c]` the class of `chr(c)`."""
    chars = plane()
    lowered = lowering(chars)
    if len(lowered) != PLANE:
        raise ValueError("a character of the plane lowers to more than one")
    base64 = "".join(run.group() for run in _BASE64.finditer(chars))
    # `[a-z]` is in `[a-z0-9+/]` (the same flags): only the latter's few characters are tried
    az = "\0".join(_AZ.findall(base64))
    classes = _mask(WORD, _WORDS, lowered) | _mask(LETTER, _LETTERS, chars)
    classes |= _flagged(BASE64, base64) | _flagged(AZ, az)
    kinds = bytearray(PLANE)
    for kind, pattern in KINDS:
        for found in re.finditer(pattern, chars[:128]):
            kinds[found.start()] = kind
    return lowered, (classes | int.from_bytes(kinds, "little")).to_bytes(PLANE, "little")


def _flagged(flag: int, chars: str) -> int:
    """`flag` at each of `chars`' code points (NUL excepted), as the bytes of an int."""
    mask = bytearray(PLANE)
    for char in chars:
        if char != "\0":
            mask[ord(char)] = flag
    return int.from_bytes(mask, "little")


def _mask(flag: int, pattern: re.Pattern[str], text: str) -> int:
    """`flag` at each character `pattern` matches, as the bytes of an int (runs at a time)."""
    mask = bytearray(len(text))
    for run in pattern.finditer(text):
        start, end = run.span()
        mask[start:end] = bytes((flag,)) * (end - start)
    return int.from_bytes(mask, "little")
