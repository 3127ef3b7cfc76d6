"""Prompt injection and jailbreak heuristics: a score from 0 to 1 and the signals behind it.

Each signal is a pattern of what an injection does (overrides earlier instructions, asks for
the hidden prompt, swaps the model's role, fakes a chat delimiter, hides instructions for the
model in data, smuggles an exfiltration link) with a weight; a text's score is
1 - prod(1 - weight) over the signals it shows, so one strong signal fires alone and weak
ones add up. The patterns want the object of the verb as well ("ignore ... instructions",
not "ignore whitespace"), which keeps look-alike benign prompts under the threshold.

Text is normalised first (case, runs of white space, zero-width and bidirectional marks,
full-width letters), so spacing tricks do not hide a phrase. Linear in the text: every
pattern is bounded and none nests quantifiers.
"""

from __future__ import annotations

import contextlib
import enum
import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass

import ahocorasick_rs

from broker.guard import disguises, prefilter_tables
from broker.guard.disguises import normalise
from broker.guard.languages import OTHER_LANGUAGES
from broker.guard.lexicon import ENGLISH
from broker.guard.machine_ids import without_machine_ids
from broker.guard.signals import Gates, Signal, signal
from broker.guard.tactics import TACTICS
from broker.pii.vault import TOKEN
from connectors.literals import literal_matches

SIGNALS = TACTICS + ENGLISH + OTHER_LANGUAGES


@dataclass(frozen=True, slots=True)
class Score:
    value: float
    signals: tuple[str, ...]


NO_SCORE = Score(0.0, ())


_SUSPECT_WORDS = (
    "ignor", "disregard", "forget", "overrid", "bypass", "instruction", "prompt", "you are", "you're",
    "from now on", "pretend", "jailbreak", "mode", "system", "assistant", "llm", "<|", "[inst", "[/inst",
    "###", "verbatim", "cancel", "exfil", "![", "do anything", "no longer", "without", "do not tell",
    "don't tell", "new task", "rules", "attention", "guidance", "silently", "secretly", "your real",
    "your true", "your actual", "your new", "your only", "<<", "safety", "polic", "filter", "restrict",
    "decode", "base64", "olvid", "oubli", "vergiss", "dimentic", "esque", "negeer", "zapomn", "игнор",
    "забуд", "忽略", "无视", "無視", "忘", "무시", "잊", "yok say", "your ", "obey", "overlook", "neglect",
    "erase", "set aside", "pay no", "refuse", "decline", "simulat", "emulat", "deceased", "late grand",
    "secrets", "password", "api key", "credential", "gpt", "god mode", "this is your", "i am the",
    "i'm the", "when you read", "reads this", "void", "constraint", "guideline", "directive", "above",
    "previous", "preceding", "prior", "before th", "everything", "instruc", "consign", "anweisung",
    "istruzion", "instruç", "talimat", "指令", "指示", "지시", "systemprompt", "システム", "시스템", "系统",
    "before my", "permitted", "allowed to", "free from", "freed", "violat", "as if", "\"role\"", "'role'",
    "must", "unfiltered", "omit", "seguire", "sigas", "suivez", "befolgen", "след", "遵", "从现在",
    "ab jetzt", "a partir", "développeur", "sans restriction", "sin restric", "ohne ", "без ", "限制", "unut",
    "kural", "regeln", "правил", "instrukc", "instructie",
)  # fmt: skip
_WORDS_ALONE = ("ai", "sys", "dan")
"""Suspect only as words of their own ("ai" is inside "daily" and "rain", "dan" inside "dance")."""
_SUSPECTS = ahocorasick_rs.AhoCorasick([*_SUSPECT_WORDS, *_WORDS_ALONE])


def _without_token_ids(text: str) -> str:
    """The text with the hex id of each PII token taken out (`<EMAIL_ADDRESS_3ac9f0b1>` reads
    `<EMAIL_ADDRESS>`, as a replaced value does). The ids are the gateway's keyed hashes, but to
    the disguise prefilter they are leetspeak ('3ac', 'e7f'): every result masked with tokens was
    suspect and paid the disguise scan (~2.5 ms per 2 KB, ~35 ms per 64 KB of CRM records).
    Nothing a signal looks for is lost, even in a token-shaped text an upstream wrote: the id is
    inside the brackets (no word around it is cut) and holds only hex digits, no phrase.
    A function, not the template `<\\1>`: Python 3.11 expands a template in Python for each
    match (0.31 -> 0.16 ms per 64 KB of pii_path's masked CRM records, ~350 tokens)."""
    return TOKEN.sub(_entity_only, text) if "_" in text else text


def _entity_only(token: re.Match[str]) -> str:
    return f"<{token[1]}>"


def suspect(text: str) -> bool:
    """A cheap first look (one pass, no normalisation): False means `score` would find nothing in
    plain text, so a tool result that says nothing of the kind costs one scan. Read natively
    (ASCII: ~0.96 -> ~0.13 ms per 64 KB of masked CRM records; accented, Cyrillic or CJK text,
    and text with emoji or other characters beyond the Basic Multilingual Plane, through
    Python's Unicode tables, see `_native_look`); any text when the native module is not built
    (or Python's tables do not fit it) by `reference_suspect`."""
    text, look = _look(text)
    if look is _Unread.TEXT:
        return reference_suspect(text)
    return _decodes_to_keyword(_without_token_ids(text)) if look is None else look


def quick_verdict(text: str) -> bool | None:
    """`suspect(text)` where it costs little (the native look: ~2 us per KB of ASCII), so a long
    tool result need not go to a worker thread to be found plain; None where it may not (a base64
    run to decode, no native module)."""
    look = _look(text)[1]
    return None if look is _Unread.TEXT else look


def _look(text: str) -> tuple[str, bool | _Unread | None]:
    """The native look at the text, and at it without its machine ids (`without_machine_ids`)
    where it was not plain: taking them out only takes out suspect parts, so a plain text needs
    no second look (nor their search)."""
    look = _native_look(text)
    if look is False or look is _Unread.TEXT:
        return text, look
    plainer = without_machine_ids(text)
    return (text, look) if plainer is text else (plainer, _native_look(plainer))


def reference_suspect(text: str) -> bool:
    """`suspect` in Python, the reference for the native one. The keywords are one Aho-Corasick
    automaton over the lowered text: as an IGNORECASE regex alternation they took milliseconds
    on a 2 KB result, the largest cost of a cached tools/call. A base64-looking run counts only
    when it decodes to a keyword (what `score` looks for in it): ids, hashes and long words are
    everywhere in tool results and made every such result pay a full score (~1.5 ms/KB)."""
    text = _without_token_ids(without_machine_ids(text))
    if _has_keyword(text) or disguises.obfuscated_part(text):
        return True
    return disguises.base64_run(text) and _decodes_to_keyword(text)


def _decodes_to_keyword(text: str) -> bool:
    return any(_has_keyword(decoded) for decoded in disguises.decoded(text))


class _Unread(enum.Enum):
    TEXT = "a text the native look cannot read"


def _native_look(text: str) -> bool | _Unread | None:
    """`reference_suspect(text)` natively (broker/pii/native/src/guard.rs): None means a base64
    run is all it found, and its decoding is still to read. Text beyond ASCII is read once the
    native prefilter has Python's Unicode tables: the Basic Multilingual Plane's at the first
    such text (~5 ms), the other planes' at the first text with a character of one (~35 ms)."""
    if _prefilter is None:
        return _Unread.TEXT
    if not text.isascii():
        _give_unicode_tables(_prefilter)
    with contextlib.suppress(ValueError):  # beyond the plane, before its tables: given below
        return _prefilter.suspect(text)
    if not _give_astral_tables(_prefilter):
        return _Unread.TEXT  # the tables (or some of them) refused
    try:
        return _prefilter.suspect(text)
    except ValueError:
        return _Unread.TEXT


def prepare() -> None:
    """Give the native look its Unicode tables now (~40 ms of CPU): the gateway calls it in a
    thread at start-up, so the first text beyond ASCII does not build them on the event loop."""
    if _prefilter is not None:
        _give_unicode_tables(_prefilter)
        _give_astral_tables(_prefilter)


@functools.cache
def _give_unicode_tables(prefilter: Prefilter) -> None:
    """Python's own lowering (as `_has_keyword` lowers) and `re` classes of each character of
    the plane, so the native look reads them as `reference_suspect` does. Built on the first
    text beyond ASCII, not at import: a process may never see one. Tables the native look
    refuses (a keyword's letter not lower case to this Python) leave such text to the reference."""
    with contextlib.suppress(ValueError, AttributeError):  # AttributeError: built before it had this
        prefilter.read_unicode(*prefilter_tables.tables(lambda chars: _folded(chars).lower()))


@functools.cache
def _give_astral_tables(prefilter: Prefilter) -> bool:
    """`_give_unicode_tables` for the planes beyond the first (emoji, CJK extensions, letters
    of other scripts, mathematical letters), built at the first text holding such a character:
    whether they were given."""
    try:
        prefilter.read_astral(*prefilter_tables.astral(lambda chars: _folded(chars).lower()))
    except (ValueError, AttributeError):  # AttributeError: a native module built before it had this
        return False
    return True


_prefilter: Prefilter | None
try:
    from broker.pii._native import Prefilter
except ImportError:  # not built (no Rust toolchain or crates): the reference
    _prefilter = None
else:
    _prefilter = Prefilter(list(_SUSPECT_WORDS), list(_WORDS_ALONE))


_FOLDED = {"\u0130": "i", "\u0131": "i", "\u017f": "s", "\u212a": "k"}
"""The letters an IGNORECASE regex also matches to ASCII ones, which `str.lower` leaves apart."""


def _folded(text: str) -> str:
    if not text.isascii():
        for letter, ascii_letter in _FOLDED.items():
            if letter in text:
                text = text.replace(letter, ascii_letter)
    return text


def _has_keyword(text: str) -> bool:
    return next(_keywords(_folded(text).lower()), None) is not None


def _keywords(lowered: str) -> Iterator[tuple[int, int]]:
    """Where the suspect keywords are in lowered text (the short ones only as words of their own)."""
    alone = len(_SUSPECT_WORDS)
    for index, start, end in literal_matches(_SUSPECTS, lowered, overlapping=True):
        if index < alone or not (_word_char(lowered, start - 1) or _word_char(lowered, end)):
            yield start, end


def _word_char(text: str, at: int) -> bool:
    """Whether `text[at]` is a word character as regex `\\b` sees it (outside the text: no)."""
    return 0 <= at < len(text) and (text[at].isalnum() or text[at] == "_")


_WHOLE = 4096
_WINDOW = 600
"""Around a keyword, far more than any signal's match spans (a few words, `near` windows of 60)."""


def _keyword_windows(text: str) -> list[str]:
    """The parts of a long text where a signal can match: every signal's match holds one of the
    suspect keywords, so only the text around them is scored (a 64 KB tool result with a few
    keywords costs a few windows, not 65 patterns over all of it). Short texts, and texts whose
    lowering changes their length (positions would drift), are scored whole."""
    if len(text) <= _WHOLE:
        return [text]
    lowered = _folded(text).lower()
    if len(lowered) != len(text):
        return [text]
    spans: list[list[int]] = []
    for start, end in _keywords(lowered):
        begin, finish = max(0, start - _WINDOW), end + _WINDOW
        if spans and begin <= spans[-1][1]:
            spans[-1][1] = max(spans[-1][1], finish)
        else:
            spans.append([begin, finish])
    return [text[begin:finish] for begin, finish in spans]


_GATES = Gates(SIGNALS)


def _fired(normal: str, skip: list[Signal] | None = None) -> list[Signal]:
    """The signals `normal` shows (those in `skip`, already found elsewhere, are not tried)."""
    done = skip or ()
    return [each for each in _GATES.passing(normal) if each not in done and each.matches(normal)]


def score(text: str) -> Score:
    """How much `text` looks like an injection or jailbreak attempt (0..1), and why."""
    if not text:
        return NO_SCORE
    text = _without_token_ids(without_machine_ids(text))
    fired: list[Signal] = []
    for part in _keyword_windows(text):
        fired += _fired(normalise(part), fired)
    disguised = disguises.obfuscated_part(text)
    if disguised or disguises.base64_run(text):  # disguises.obfuscated(text)
        # No prefilter part, no segment: a text with only a long run of letters and digits (ids,
        # hashes, an e-mail's long local part) skips the disguise scan (~30 ms per 64 KB).
        for segment in disguises.segments(text) if disguised else ():
            view = disguises.disguised_view(segment, normalise(segment))
            if view is not None:
                fired += _fired(view, fired)
        for decoded in disguises.decoded(text):
            if _combine(_fired(normalise(decoded))) >= 0.6:
                fired.append(ENCODED)
                break
    if not fired:
        return NO_SCORE
    return Score(round(_combine(fired), 4), tuple(each.name for each in fired))


ENCODED = signal("encoded_payload", 0.75, r"(?!)")
"""Fired by hand: an encoded run (base64) that decodes to an injection."""


def _combine(fired: list[Signal]) -> float:
    remaining = 1.0
    for each in fired:
        remaining *= 1.0 - each.weight
    return 1.0 - remaining
