"""Phone numbers: whether a digit run the number finder found (broker/pii/recognizers_number.py)
is a phone, and how sure that is.

A phone is

- international (`+44 20 7946 0958`, `0044 ...`, `+44(0)115 ...`) and a possible number for
  its country code (`phonenumbers`' metadata lengths); or
- national with a phone layout: NANP `(212) 555-0143` / `212-555-0143`, a trunk `0` and
  groups (`030 901820`, `04 15 39 15 00`, `(0161) 4960066`), or other groups that are a
  valid number in one of the common regions; or
- bare digits (`4155550143`) with phone context: a keyword just before it or a phone-like
  JSON key.

Dates, times, IP addresses, versions, card- and SSN-shaped groups, ZIP+4 codes and amounts
(currency or decimals next to them) are not phones.
"""

from __future__ import annotations

import functools
import re

import phonenumbers

from broker.pii.context import PHONE_CONTEXT, Scan, ends_with_word, named_before

_EXTENSION = re.compile(r"[ ]?(?:x|ext\.?|extension)[ ]?\d{1,6}$")
DROP_SEPARATORS = str.maketrans("", "", " -./()+")
_GROUP_SPLIT = re.compile(r"[ ./()-]+")
_DATE = re.compile(r"\d{4}([-/.])\d{1,2}\1\d{1,2}|\d{1,2}([-/.])\d{1,2}\2\d{2,4}")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}\b")
_ZIP4 = re.compile(r"\d{5}-\d{4}")
SSN_SHAPE = re.compile(r"\d{3}([- .]?)\d{2}\1\d{4}")
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


def phone_score(candidate: str, scan: Scan, start: int, end: int) -> float:
    main = _EXTENSION.sub("", candidate) if "x" in candidate else candidate
    digits = main.translate(DROP_SEPARATORS)
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
    return 0.6 if valid_somewhere(digits) else 0.0


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
    if _DATE.fullmatch(main) or _ISO_DATE.match(main) or _ZIP4.fullmatch(main) or SSN_SHAPE.fullmatch(main):
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
        return 0.7 if valid_somewhere(digits) else 0.0
    return 0.8 if valid_somewhere(digits) else 0.0


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
        lengths = possible_lengths(int(digits[:size]))
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
def possible_lengths(country_code: int) -> frozenset[int]:
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
    return 0.8 if valid_somewhere(digits) else 0.0


# The same regions, in the order a number with a trunk '0' is tried: where it is most often valid
# first. Any order gives the same answer; this one gives it sooner. On bench/pii.py's corpus (every
# call a trunk-0 number of 10 or 11 digits, none repeated) US alone cost ~170 µs and never held one,
# and ~360 µs went by before the first region that did; in this order ~55 µs a call.
_TRUNK_FIRST = ("DE", "FR", "GB", "NZ")
_TRUNK_REGIONS = (*_TRUNK_FIRST, *(region for region in _REGIONS if region not in _TRUNK_FIRST))


@functools.lru_cache(maxsize=8192)
def valid_somewhere(digits: str) -> bool:
    """Whether the digits are a valid number in one of the common regions (rare path: up to 31
    parses of 30-190 µs each)."""
    for region in _TRUNK_REGIONS if digits[:1] == "0" else _REGIONS:
        try:
            number = phonenumbers.parse(digits, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            return True
    return False
