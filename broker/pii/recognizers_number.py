"""Numbers: card numbers, US SSNs and phone numbers from one pass over digit runs.

One strict regex finds digit runs laid out as a card, an SSN or a phone might be (groups of
digits with single separators, an optional '+', '(area)' and extension); each run is then
classified in turn as a payment card (brand table + Luhn), an SSN (SSA rules) or a phone.
A run that is none of them as a whole is split at its spaces, left to right, so a list such
as `0612345678 0698765432` still yields two phones.

A phone is

- international (`+44 20 7946 0958`, `0044 ...`, `+44(0)115 ...`) and a possible number for
  its country code (`phonenumbers`, parsed once per distinct number); or
- national with a phone layout: NANP `(212) 555-0143` / `212-555-0143`, a trunk `0` and
  groups (`030 901820`, `04 15 39 15 00`, `(0161) 4960066`), or other groups that are a
  valid number in one of the common regions; or
- bare digits (`4155550143`) with phone context: a keyword just before it or a phone-like
  JSON key.

Dates, times, IP addresses, versions, card- and SSN-shaped groups, ZIP+4 codes, amounts
(currency or decimals next to them) and numbers named as ids are rejected.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable

import phonenumbers

from broker.pii.context import (
    CARD_CONTEXT,
    PHONE_CONTEXT,
    SEPARATOR,
    SSN_CONTEXT,
    Found,
    Scan,
    ends_with_word,
    named_before,
)
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
_EXTENSION = re.compile(r"[ ]?(?:x|ext\.?|extension)[ ]?\d{1,6}$")
_DROP = str.maketrans("", "", " -./()+")
_GROUP_SPLIT = re.compile(r"[ ./()-]+")
_CHUNK = re.compile(r"[^ ]+")
# `\w*\d\w*[ ]$` (a code with a digit, then a space, right before): matched once on the reversed
# text, where the search tried every position (1.8 µs on 30 characters).
_GLUED_BEFORE = re.compile(r"\n?[ ]\w*\d")  # ("$" also matches before a last newline)
_DATE = re.compile(r"\d{4}([-/.])\d{1,2}\1\d{1,2}|\d{1,2}([-/.])\d{1,2}\2\d{2,4}")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}\b")
_ZIP4 = re.compile(r"\d{5}-\d{4}")
_SSN_SHAPE = re.compile(r"\d{3}([- .]?)\d{2}\1\d{4}")
# A currency right before: `(?:[$€£¥₹]|\b(?:usd|...)\b)\s*$`, matched on the reversed text.
_CURRENCY_BEFORE = ends_with_word("usd eur gbp chf jpy inr aud cad sek nok dkk pln", r"\s", "$€£¥₹")
_AFTER_AMOUNT = re.compile(
    r"\s?(?:[$€£¥₹%]|(?:usd|eur|gbp|chf|jpy|inr|aud|cad|sek|nok|dkk|pln|k|m|bn)\b)", re.I
)

# Regions tried, in order, for national numbers without a trunk prefix or NANP layout.
_REGIONS: tuple[str, ...] = (
    "US",
    "GB",
    "DE",
    "FR",
    "IT",
    "ES",
    "NL",
    "BE",
    "CH",
    "AT",
    "PL",
    "SE",
    "NO",
    "DK",
)
_REGIONS += (
    "FI",
    "IE",
    "PT",
    "CZ",
    "BR",
    "MX",
    "AR",
    "AU",
    "NZ",
    "IN",
    "JP",
    "CN",
    "KR",
    "SG",
    "ZA",
    "TR",
    "RU",
)

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
        _valid_somewhere,
        sum(_ENTITY_BITS[entity] for entity in entities if entity in _ENTITY_BITS),
    )
    if deferred:
        for start, end in deferred:
            _number_at(scan, start, end, entities, found)
        found.sort()  # (runs do not overlap: by start, as the reference appends them)
    out.extend(found)


def _key_kinds(key: str) -> int:
    scan = Scan("", [0], [key])
    return scan.key_is_negative(0) | scan.key_is_phone(0) << 1


def _code_lengths(country_code: int) -> int:
    # (national numbers checked are at most 14 digits long: bits above 31 are never asked)
    return sum(1 << length for length in _possible_lengths(country_code) if length < 32)


def reference_find_numbers(scan: Scan, out: list[Found], entities: Entities) -> None:
    """`find_numbers` in Python: the fallback, and the reference for the native one."""
    for start, end in number_runs(scan.text):
        _number_at(scan, start, end, entities, out)


def _number_at(scan: Scan, start: int, end: int, entities: Entities, out: list[Found]) -> None:
    """The findings of the digit run at `start:end`, appended to `out`."""
    text = scan.text
    run = text[start:end]
    if start and text[start - 1] == " " and _GLUED_BEFORE.match(scan.before(start, 30)[::-1]):
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
    if plain and "US_SSN" in entities and 9 <= len(run) <= 11 and _SSN_SHAPE.fullmatch(run):
        score = _ssn(run, scan, start)
        if score:
            return (start, end, "US_SSN", score)
    if "PHONE_NUMBER" in entities:
        score = _phone(run, scan, start, end)
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
    digits = run.translate(_DROP)
    return 0.5 if digits in SAMPLE_SSNS else (0.9 if run[3] == "-" else 0.7)


def _phone(candidate: str, scan: Scan, start: int, end: int) -> float:
    main = _EXTENSION.sub("", candidate) if "x" in candidate else candidate
    digits = main.translate(_DROP)
    if not 7 <= len(digits) <= 15:
        return 0.0
    if main[0] == "+":
        return _international(digits)
    if main.isdigit():
        return _bare(digits, scan, start)
    return _national(main, digits, scan, start, end)


def _bare(digits: str, scan: Scan, start: int) -> float:
    """Digits without separators: a phone where the text or key says so, or a valid trunk-0 number."""
    before = scan.before(start, 40)
    context = _phone_context(scan, start, before)
    if not context and (named_before(before[-25:]) or scan.key_is_negative(start)):
        return 0.0
    if digits.startswith("00") and len(digits) >= 11 and (score := _international(digits[2:])):
        return score  # 0044 20 7946 0958 written without spaces
    if context:
        return _national_number(digits)
    if (
        digits[0] != "0"
        or digits[1] == "0"
        or not 10 <= len(digits) <= 11
        or _CURRENCY_BEFORE.match(before[::-1])
    ):
        return 0.0
    return 0.6 if _valid_somewhere(digits) else 0.0


def _national(main: str, digits: str, scan: Scan, start: int, end: int) -> float:
    # Shapes first (cheap, and most digit runs in data are dates, amounts and ids), context last;
    # of the shapes, the group tests (no regex) before the regexes.
    international = main.startswith("00") and len(digits) >= 10  # 0044 20 7946 0958
    if len(digits) > 13 and not international:
        return 0.0
    groups = [g for g in _GROUP_SPLIT.split(main) if g]
    nanp = _nanp_shaped(digits, groups)
    if "." in main and not nanp and not _dotted_ok(main, groups):
        return 0.0
    if len(groups[-1]) < 2 or _card_shaped(groups):
        return 0.0
    if _DATE.fullmatch(main) or _ISO_DATE.match(main) or _ZIP4.fullmatch(main) or _SSN_SHAPE.fullmatch(main):
        return 0.0
    before = scan.before(start, 40)
    if _CURRENCY_BEFORE.match(before[::-1]) or _AFTER_AMOUNT.match(scan.text, end, end + 5):
        return 0.0
    context = _phone_context(scan, start, before)
    if not context and (named_before(before[-25:]) or scan.key_is_negative(start)):
        return 0.0
    if international and (score := _international(digits[2:])):
        return score
    if len(digits) < 9 and not context:
        return 0.0
    if nanp:
        return 0.85
    if digits[0] == "0" and 9 <= len(digits) <= 12:
        return 0.7  # trunk prefix and groups: the European / Asian national layout
    if _thousands_shaped(groups) and not context:
        return 0.7 if _valid_somewhere(digits) else 0.0
    return 0.8 if _valid_somewhere(digits) else 0.0


def _phone_context(scan: Scan, start: int, before: str | None = None) -> bool:
    if before is None:
        before = scan.before(start, 40)
    return PHONE_CONTEXT.search(before) is not None or scan.key_is_phone(start)


def _dotted_ok(main: str, groups: list[str]) -> bool:
    # 206.269.0743 or 01.23.45.67.89, never 1.2.3 versions or 10.0.0.1 addresses.
    return len(groups) >= 3 and all(len(g) >= 2 for g in groups) and not _ipv4_shaped(main)


def _ipv4_shaped(main: str) -> bool:
    parts = main.split(".")
    return len(parts) == 4 and all(p.isdigit() and len(p) <= 3 for p in parts)


def _card_shaped(groups: list[str]) -> bool:
    return len(groups) >= 3 and all(len(g) == 4 for g in groups[:3]) and sum(map(len, groups)) >= 12


def _nanp_shaped(digits: str, groups: list[str]) -> bool:
    """(212) 555-0143, 212-555-0143, 1-212-555-0143: the 3-3-4 layout (any area code: data has test ones)."""
    if len(digits) == 11 and digits[0] == "1":
        digits, groups = digits[1:], groups[1:]
    return len(digits) == 10 and [len(g) for g in groups[-3:]] == [3, 3, 4]


def _thousands_shaped(groups: list[str]) -> bool:
    return len(groups[0]) <= 3 and all(len(g) == 3 for g in groups[1:])


def _international(digits: str) -> float:
    """Score the digits after '+' (or '00'): a country code, then a national number of a possible
    length for it (phonenumbers' metadata, without a full parse). A '(0)' trunk may be left in."""
    for size in (1, 2, 3):
        lengths = _possible_lengths(int(digits[:size]))
        if lengths:
            national = digits[size:]
            if len(national) in lengths:
                return 0.9
            if national[:1] == "0" and len(national) - 1 in lengths:
                return 0.9  # +44 (0)20 7946 0958
            # A '+', a real country code and a phone's length: formats vary more than metadata.
            return 0.6 if 8 <= len(digits) <= 15 else 0.0
    return 0.0


@functools.cache
def _possible_lengths(country_code: int) -> frozenset[int]:
    """National number lengths possible after `country_code` (empty when it is no country code)."""
    lengths: set[int] = set()
    for region in phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(country_code, ()):
        metadata = phonenumbers.PhoneMetadata.metadata_for_region_or_calling_code(country_code, region)
        if metadata is not None and metadata.general_desc is not None:
            lengths.update(metadata.general_desc.possible_length or ())
            lengths.update(metadata.general_desc.possible_length_local_only or ())
    return frozenset(lengths)


def _national_number(digits: str) -> float:
    """Bare digits with phone context: a trunk-prefix or NANP length, or valid somewhere."""
    if digits[0] == "0" and 9 <= len(digits) <= 12:
        return 0.7
    if len(digits) == 10 and digits[0] in "23456789":
        return 0.7
    return 0.8 if _valid_somewhere(digits) else 0.0


@functools.lru_cache(maxsize=8192)
def _valid_somewhere(digits: str) -> bool:
    """Whether the digits are a valid number in one of the common regions (rare path: ~30 parses)."""
    for region in _REGIONS:
        try:
            number = phonenumbers.parse(digits, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            return True
    return False
