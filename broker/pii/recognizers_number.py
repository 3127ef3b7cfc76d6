"""Numbers: card numbers, US SSNs and phone numbers from one pass over digit runs.

One strict regex finds digit runs laid out as a card, an SSN or a phone might be (groups of
digits with single separators, an optional '+', '(area)' and extension); each run is then
classified in turn as a payment card (brand table + Luhn), an SSN (SSA rules) or a phone.
A run that is none of them as a whole is split at its spaces, left to right, so a list such
as `0612345678 0698765432` still yields two phones.

Whether a run is a phone, and how sure, is broker/pii/phones.py's.

Dates, times, IP addresses, versions, card- and SSN-shaped groups, ZIP+4 codes, amounts
(currency or decimals next to them) and numbers named as ids are rejected.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from broker.pii.context import CARD_CONTEXT, SEPARATOR, SSN_CONTEXT, Found, Scan, named_before
from broker.pii.phones import DROP_SEPARATORS, SSN_SHAPE, phone_score, possible_lengths, valid_somewhere
from broker.pii.validators import SAMPLE_SSNS, credit_card_ok, ssn_ok

# The first character is matched by a character class, so the engine skips to the next '+', '('
# or digit without starting a match attempt at every position; the look-behinds then check what
# came before it, and the branch taken continues the run as that first character begins it (so
# the run starts with '+', '(' or a digit whatever that class lets through). The class is written
# without \d, as '0-9' and everything from U+0660 up (no other digit is lower): a table lookup per
# character, where \d's Unicode test made the skip ~6 ms per MB slower.
_GROUPS = r"""
        (?:
            [ ]?\(\d{1,5}\)               # (0) trunk or (area) later on
          | (?<=\))[ ]?[-./]?[ ]?\d++     # any or no separator after ')'
          | (?:[ ]?[-./][ ]?|[ ]{1,2})\d++  # one separator, then digits
        ){1,9}+"""
_RUN = re.compile(
    r"""
    [+(0-9\u0660-\U0010ffff](?<![\w+@/\\.\-\#$€£¥%&].)     # not glued to a word, number, id, path or amount
    (?:
        (?<=\+)[ ]?(?:(?:\(\+?\d{1,5}\)|\d++)"""
    + _GROUPS
    + r"""|\d{7,}+)               # '+', then groups or one long run of digits
      | (?<=\()\+?\d{1,5}\)"""
    + _GROUPS
    + r"""                         # '(area)', then groups
      | (?<=\d)(?:\d*+"""
    + _GROUPS
    + r"""|\d{6,}+)               # digits, then groups; or one long run of digits
    )
    (?:[ ]?(?:x|ext\.?|extension)[ ]?\d{1,6})?
    (?![\w@:]|[-./,]\d|%)
    """,
    re.VERBOSE,
)
# Runs that `_classify` rejects whatever is around them (an amount such as 1234567.00, an IPv4
# address, a date, a ZIP+4 code): most digit runs in data are these, dropped here in one C call.
_NEVER = re.compile(
    r"\d+\.\d+|\d{1,3}(?:\.\d{1,3}){3}|\d{4}([-/.])\d{1,2}\1\d{1,2}|\d{1,2}([-/.])\d{1,2}\2\d{2,4}|\d{5}-\d{4}"
)
_CHUNK = re.compile(r"[^ ]+")
# `\w*\d\w*[ ]$` (a code with a digit, then a space, right before): matched once on the reversed
# text, where the search tried every position (1.8 µs on 30 characters).
_GLUED_BEFORE = re.compile(r"\n?[ ]\w*\d")  # ("$" also matches before a last newline)

Entities = frozenset[str]


def runs(text: str) -> list[tuple[int, int]]:
    """Spans of the digit runs in `text` that may be numbers: `_RUN`'s matches but the `_NEVER` shapes.

    This is the reference for the native scan (broker/pii/native/, `make native`), which finds
    the same spans ~10x faster and is used instead wherever it is built."""
    never = _NEVER.fullmatch
    # (each `_NEVER` shape has a '.', '-' or '/', so a run of digits alone is never one)
    return [m.span() for m in _RUN.finditer(text) if (run := m.group()).isdigit() or not never(run)]


def none_decided(
    text: str,
    starts: list[int],
    keys: list[str | None],
    key_kinds: dict[str, int],
    judge_key: Callable[[str], int],
    code_lengths: list[int],
    judge_code: Callable[[int], int],
    card_ok: Callable[[str], bool],
    valid_somewhere: Callable[[str], bool],
    entities: int,
    /,
) -> tuple[list[Found], list[tuple[int, int]]]:
    """No findings decided and every run left to Python: what stands for the native
    `number_findings` (see `find_numbers`) where it is not built."""
    return [], number_runs(text)


try:
    from broker.pii._native import number_findings, number_runs
except ImportError:  # not built: the same spans from the patterns, the same findings in Python
    number_runs = runs
    number_findings = none_decided

# What the native finder asks Python once and keeps: what a raw JSON key names (bits: 1 for
# `Scan.key_is_negative`, 2 for `Scan.key_is_phone`), and the national lengths possible after
# each country code (a bit mask, -1 until asked: phonenumbers' metadata loads per code).
_KEY_KINDS: dict[str, int] = {}
_CODE_LENGTHS: list[int] = [-1] * 1000
_ENTITY_BITS = {"CREDIT_CARD": 1, "US_SSN": 2, "PHONE_NUMBER": 4}


def find_numbers(scan: Scan, out: list[Found], entities: Entities) -> None:
    """Cards, SSNs and phones (those of them in `entities`) in the scan.

    Natively where it is built (broker/pii/native/src/numbers.rs): the runs glued to a code,
    bare ids under an id/amount/time key, '+' numbers and runs that are a whole string value
    are decided there; the other runs come back and go through `_number_at`, as every run does
    in `reference_find_numbers`. On pii_path's CRM records (an id and a '+1 415 555 0001' in
    each record: no run comes back) this took the number finder from ~9.3 to ~1.6 ms per MB;
    on bench/pii.py's corpus from ~17.9 to ~6.
    """
    if len(_KEY_KINDS) > 50_000:
        _KEY_KINDS.clear()
    starts, keys = scan._starts, scan._keys
    found, deferred = number_findings(
        scan.text,
        starts if type(starts) is list else list(starts),
        keys if type(keys) is list else list(keys),
        _KEY_KINDS,
        _key_kinds,
        _CODE_LENGTHS,
        _code_lengths,
        credit_card_ok,
        valid_somewhere,
        sum(_ENTITY_BITS[entity] for entity in entities if entity in _ENTITY_BITS),
    )
    if deferred:
        # (the native finder drops the runs glued to a code before handing any back: not asked again)
        glue_known = number_findings is not none_decided
        for start, end in deferred:
            _number_at(scan, start, end, entities, found, glue_known)
        found.sort()  # (runs do not overlap: by start, as the reference appends them)
    out.extend(found)


def _key_kinds(key: str) -> int:
    scan = Scan("", [0], [key])
    return scan.key_is_negative(0) | scan.key_is_phone(0) << 1


def _code_lengths(country_code: int) -> int:
    # (national numbers checked are at most 14 digits long: bits above 31 are never asked)
    return sum(1 << length for length in possible_lengths(country_code) if length < 32)


def reference_find_numbers(scan: Scan, out: list[Found], entities: Entities) -> None:
    """`find_numbers` in Python: the fallback, and the reference for the native one."""
    for start, end in number_runs(scan.text):
        _number_at(scan, start, end, entities, out)


def _number_at(
    scan: Scan, start: int, end: int, entities: Entities, out: list[Found], glue_known: bool = False
) -> None:
    """The findings of the digit run at `start:end`, appended to `out` (`glue_known`: the run is
    known not to be glued to a code before it)."""
    text = scan.text
    run = text[start:end]
    if (
        not glue_known
        and start
        and text[start - 1] == " "
        and _GLUED_BEFORE.match(scan.before(start, 30)[::-1])
    ):
        return  # the tail of a longer alphanumeric code (an IBAN, a part number)
    if (not start or text[start - 1] == SEPARATOR) and run.isdigit() and scan.key_is_negative(start):
        return  # bare digits opening a value whose key names an id, a time, an amount
    found = _classify(run, scan, start, end, entities)
    if found is not None:
        out.append(found)
    elif " " in run:
        _split(run, scan, start, entities, out)


def _split(run: str, scan: Scan, base: int, entities: Entities, out: list[Found]) -> None:
    """Entities in a space-separated run, left to right, kept only if they use up the whole run.

    `0612345678 0698765432` is two phones; `8 886 093 80 65` with a valid-looking prefix is not.
    """
    chunks = [m.span() for m in _CHUNK.finditer(run)]
    found: list[Found] = []
    first = 0
    while first < len(chunks):
        for last in range(len(chunks) - 1, first - 1, -1):
            start, end = base + chunks[first][0], base + chunks[last][1]
            item = _classify(scan.text[start:end], scan, start, end, entities)
            if item is not None:
                found.append(item)
                first = last + 1
                break
        else:
            return  # a chunk that starts nothing: the run is not a list of entities
    out.extend(found)


def _classify(run: str, scan: Scan, start: int, end: int, entities: Entities) -> Found | None:
    plain = run[0] != "+" and "(" not in run
    if (
        plain
        and "CREDIT_CARD" in entities
        and len(run) >= 12
        and credit_card_ok(run)
        and _card_context(scan, start)
    ):
        return (start, end, "CREDIT_CARD", 1.0)
    if plain and "US_SSN" in entities and 9 <= len(run) <= 11 and SSN_SHAPE.fullmatch(run):
        score = _ssn(run, scan, start)
        if score:
            return (start, end, "US_SSN", score)
    if "PHONE_NUMBER" in entities:
        score = phone_score(run, scan, start, end)
        if score:
            return (start, end, "PHONE_NUMBER", score)
    return None


def _card_context(scan: Scan, start: int) -> bool:
    """False for a number named as something else right before it ('EAN 4006381333931', 'ref ...')."""
    before = scan.before(start, 40)
    if not named_before(before[-25:]) and not scan.key_is_negative(start):
        return True
    # 'card number 4111...' is a card; 'card 4111..., EAN 4006...' is not: look after the last digit only.
    since_last_number = before[max((i for i, c in enumerate(before) if c.isdigit()), default=-1) + 1 :]
    return CARD_CONTEXT.search(since_last_number) is not None or scan.key_is_card(start)


def _ssn(run: str, scan: Scan, start: int) -> float:
    if not ssn_ok(run):
        return 0.0
    before = scan.before(start, 40)
    context = SSN_CONTEXT.search(before) is not None or scan.key_is_ssn(start)
    named_otherwise = named_before(before[-25:]) or scan.key_is_negative(start)
    if (run.isdigit() and (named_otherwise or not context)) or (named_otherwise and not context):
        return 0.0  # nine bare digits, or an SSN-shaped order or account number
    digits = run.translate(DROP_SEPARATORS)
    return 0.5 if digits in SAMPLE_SSNS else (0.9 if run[3] == "-" else 0.7)
