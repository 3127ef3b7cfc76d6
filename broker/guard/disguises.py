"""Views of a text with its disguises taken off, for the injection heuristics: normalised
(case, white space, invisible marks, full-width letters), un-spaced and un-dotted letters,
leetspeak undone, and base64 runs decoded."""

from __future__ import annotations

import binascii
import re
import unicodedata
from collections.abc import Iterator

_INVISIBLE = dict.fromkeys(
    map(
        ord,
        "\u200b\u200c\u200d\u200e\u200f\u2060\u2061\u2062\u2063\u2064\ufeff\u202a\u202b\u202c\u202d\u202e",
    ),
    None,
)
_SPACE = re.compile(r"\s{2,}|[^\S ]")
"""What a white-space run -> ' ' changes: runs of 2+, and single white space other than ' '."""


def normalise(text: str) -> str:
    folded = unicodedata.normalize("NFKC", text).translate(_INVISIBLE).casefold()
    return _SPACE.sub(" ", folded)


# --- obfuscation: a second view of the text with the disguise taken off ----------------------

_SPACED = re.compile(r"(?<![^\s])(?:[^\W\d_] ){3,}[^\W\d_](?![^\s])")
"""Letters written one by one with single spaces (`i g n o r e`); words apart by 2+ spaces."""
_SPACED_LED = re.compile(r" (?<=(?<![^\s])[^\W\d_] )(?:[^\W\d_] ){2,}[^\W\d_](?![^\s])")
"""`_SPACED`'s search from its first space, the character it needs.

This one and the three below are led by the character each match needs (the regex engine then
skips to it, as in `OBFUSCATED_PARTS`), where the patterns they replace began with a look-behind
or `\b`, tried at every position: on 2 KB of GitHub issues JSON the disguise view went ~0.9 ->
~0.3 ms. A match may begin a letter later, where a substitution keeps that letter anyway."""
_DOTTED = re.compile(r"[.\-_*](?<=\b[^\W\d_][.\-_*])(?:[^\W\d_][.\-_*]){2,}[^\W\d_]\b")
"""Letters apart by one dot, dash, underscore or star (`i.g.n.o.r.e`)."""
_LEET = re.compile(
    r"[0134579@$](?:(?<=[a-z][0134579@$])(?=[a-z])|(?<=\b[0134579@$])(?=[a-z]{2})|(?<=[a-z]{2}[0134579@$])\b)"
)
"""A digit or sign between letters, or leading or ending a word of letters (`1gn0re`)."""
_LEET_MAP = str.maketrans("0134579@$", "oieastgas")
_JOINED = re.compile(r"[-_.*+/\\|~](?<=[a-z][-_.*+/\\|~])[-_.*+/\\|~]*(?=[a-z])")
"""Punctuation between letters (`ignore-all`), the run of it."""
_DISGUISED = re.compile(
    r"(?:[^\W\d_][.]){3,}|(?:[^\W\d_] ){3,}|[a-z][013457][a-z]|(?<![a-z0-9])[013457][a-z]{2}"
    r"|\b[a-z]{1,12}[-*+|~][a-z]{1,12}[-*+|~][a-z]{1,12}[-*+|~][a-z]",
    re.I,
)
"""Letters spaced or dotted one by one, leetspeak, words joined by punctuation."""
OBFUSCATED_PARTS = (
    re.compile(r"\.(?<=[^\W\d_]\.)(?:[^\W\d_]\.){2}"),
    re.compile(r" (?<=[^\W\d_] )(?:[^\W\d_] ){2}"),
    re.compile(r"[013457](?:(?<=[a-z][013457])[a-z]|(?<![a-z0-9][013457])[a-z]{2})", re.I),
    re.compile(r"[-*+|~](?<=[a-z][-*+|~])[a-z]{1,12}[-*+|~][a-z]{1,12}[-*+|~][a-z]", re.I),
)
"""`_DISGUISED`'s alternatives, each led by the character it needs (a dot, a space, a digit, a joiner)
so the regex engine skips to candidates instead of trying every alternative at every position:
~6x faster on JSON results. The last is wider than its original (any letter run before the
first joiner, not only 1-12 letters after a word boundary): a prefilter may over-match."""


def _class_of(char: str) -> str:
    if char.isascii() and char.isalpha():
        return "L"
    if char.isdigit():
        return "D" if char in "013457" else "N"
    return "J" if char in "-*+|~" else char if char in ". " else "U" if char == "_" else "O"


_CLASSES = "".join(_class_of(chr(byte)) for byte in range(128)).encode() + b"O" * 128
r"""ASCII text as the classes `OBFUSCATED_PARTS` tell apart: a letter (L: `[^\W\d_]`, and `[a-z]`
ignoring case, in ASCII text), a leet digit (D), another digit (N), a joiner (J), the dot, the
space, the underscore (U: a word character, for `\b`), anything else (O)."""
_LEET_LED = re.compile(rb"DLL(?<![LDN]DLL)")
_JOINED_LED = re.compile(rb"LJL{1,12}JL{1,12}JL")
"""Two of `OBFUSCATED_PARTS` over the classes of an ASCII text, each led by a literal (the regex
engine then skips to it); the others are plain substrings of the classes (`L.L.L.`, `L L L `, `LDL`)."""


def obfuscated_part(text: str) -> bool:
    """Whether one of `OBFUSCATED_PARTS` is in `text`. ASCII text (most tool results) is searched
    as its character classes, one byte translation: the parts' regexes stop at every digit, dot,
    space and dash of a JSON result, ~1.9 -> ~0.2 ms per 64 KB of pii_path's masked CRM records."""
    if text.isascii():
        classes = text.encode("ascii").translate(_CLASSES)
        return (
            classes.find(b"L.L.L.") >= 0  # (`find`: see connectors/jsonwire.py)
            or classes.find(b"L L L ") >= 0
            or classes.find(b"LDL") >= 0
            or _LEET_LED.search(classes) is not None
            or _JOINED_LED.search(classes) is not None
        )
    return any(part.search(text) for part in OBFUSCATED_PARTS)


_BASE64_LIKE = bytes(
    ord("a") if chr(c).isascii() and (chr(c).isalnum() or chr(c) in "+/") else ord(" ") for c in range(256)
)
_BASE64_RUN = re.compile(r"[a-z0-9+/]{16}", re.I)


def obfuscated(text: str) -> bool:
    """Disguised letters, or a run of 16 base64 characters (ASCII text: one byte translation)."""
    return obfuscated_part(text) or base64_run(text)


_BASE64_RUN_CLASSES = b"a" * 16
_BASE64_CHARACTER = ord("a")


def base64_run(text: str) -> bool:
    if text.isascii():
        classes = text.encode("ascii").translate(_BASE64_LIKE)
        return classes.find(_BASE64_RUN_CLASSES) >= 0  # (`find`: see connectors/jsonwire.py)
    return _BASE64_RUN.search(text) is not None


_BASE64 = re.compile(
    r"(?<![a-z0-9+/])(?:[a-z0-9+/]{4}){4,}(?:[a-z0-9+/]{2}==|[a-z0-9+/]{3}=)?(?![a-z0-9+/=])", re.I
)
_DECODED_LIMIT = 8


def _unspaced(text: str) -> str:
    pieces = re.split(r"\s{2,}", unicodedata.normalize("NFKC", text).translate(_INVISIBLE))
    return " ".join(_SPACED.sub(lambda m: m.group().replace(" ", ""), piece) for piece in pieces)


def disguised_view(text: str, normal: str) -> str | None:
    """The text with letter spacing, leetspeak and joining punctuation undone (None when the
    text shows none of them)."""
    view = normalise(_unspaced(text)) if _SPACED_LED.search(text) else normal
    view = _DOTTED.sub(lambda m: re.sub(r"[.\-_*]", "", m.group()), view)
    if _LEET.search(view):
        view = _LEET.sub(lambda m: m.group().translate(_LEET_MAP), view)
    view = _JOINED.sub(" ", view)
    return view if view != normal else None


_AROUND = 300
_SEGMENTS = 32


def segments(text: str) -> list[str]:
    """The parts of the text around its disguises (merged when they overlap): the second view is
    scored there only, so a long text with a few hyphenated words costs little more."""
    spans: list[list[int]] = []
    for _, (start, stop) in zip(range(_SEGMENTS * 8), _disguises(text), strict=False):
        begin, end = max(0, start - _AROUND), stop + _AROUND
        if spans and begin <= spans[-1][1]:
            spans[-1][1] = max(spans[-1][1], end)
        elif len(spans) < _SEGMENTS:
            spans.append([begin, end])
    return [text[begin:end] for begin, end in spans]


_DISGUISED_CLASSES = re.compile(
    rb"(?:L\.){3,}|(?:L ){3,}|LDL|(?<![LDN])DLL|(?<![LDNU])L{1,12}JL{1,12}JL{1,12}JL"
)
"""`_DISGUISED` over the classes of an ASCII text (`\b` before a letter: no word character before)."""
_HINTS = (b"L.L.L.", b"L L L ", b"LDL", b"DLL", b"LJL")
"""A piece of each of its alternatives, within 12 characters of the start of any match."""


def _disguises(text: str) -> Iterator[tuple[int, int]]:
    """The spans of `_DISGUISED.finditer(text)`. ASCII text is searched as its classes, and only
    from 13 characters before the nearest hint (`find`) on: the regex tried all five alternatives
    at every position (~0.4 ms per 2 KB of JSON)."""
    if not text.isascii():
        yield from (match.span() for match in _DISGUISED.finditer(text))
        return
    classes = text.encode("ascii").translate(_CLASSES)
    ahead = [classes.find(hint) for hint in _HINTS]
    at = 0
    while True:
        for index, hint in enumerate(_HINTS):
            if 0 <= ahead[index] < at:
                ahead[index] = classes.find(hint, at)
        nearest = min((found for found in ahead if found >= 0), default=-1)
        if nearest < 0:
            return
        match = _DISGUISED_CLASSES.search(classes, max(at, nearest - 13))
        if match is None:
            return
        yield match.span()
        at = match.end()


def decoded(text: str) -> list[str]:
    """Base64 runs of the (un-normalised) text that decode to readable text."""
    runs = _ascii_runs(text) if text.isascii() else (match.group() for match in _BASE64.finditer(text))
    found: list[str] = []
    for run in runs:
        try:
            raw = binascii.a2b_base64(run, strict_mode=True)  # b64decode(validate=True)
        except ValueError:  # binascii.Error is one
            continue
        # Bytes that are not UTF-8 decode to lone surrogates, which are not printable: the same
        # verdict as a strict decode, without raising for each run (most decode to no text).
        value = raw.decode("utf-8", "surrogateescape")
        if value.isprintable() and any(c.isalpha() for c in value):
            found.append(value)
            if len(found) == _DECODED_LIMIT:
                break
    return found


_PADDING = ("", None, "==", "=")
"""The padding a run of base64 characters needs by its length modulo 4 (None: it cannot have any)."""


def _ascii_runs(text: str) -> Iterator[str]:
    """`_BASE64`'s matches in ASCII text, found as `base64_run` finds a run (`find` jumps from run
    to run): the regex tried each position in turn, ~2 ms per 64 KB of records with long ids,
    where nothing decodes. Its look-behind and look-ahead take a run of 16 or more whole, and
    with the padding its length needs, followed by neither a base64 character nor '='."""
    classes = text.encode("ascii").translate(_BASE64_LIKE)
    start = classes.find(_BASE64_RUN_CLASSES)
    while start >= 0:
        end = classes.find(b" ", start)
        if end < 0:
            end = len(classes)
        padding = _PADDING[(end - start) % 4]
        if padding is not None and text.startswith(padding, end):
            stop = end + len(padding)
            if stop == len(classes) or (classes[stop] != _BASE64_CHARACTER and text[stop] != "="):
                yield text[start:stop]
        start = classes.find(_BASE64_RUN_CLASSES, end)
