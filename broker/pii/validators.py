"""Checks that turn pattern candidates into findings: checksums, issuer tables, number rules.

Each function takes the matched text (separators included) and answers without raising.
"""

from __future__ import annotations

import ipaddress
import re

# Payment card issuer ranges: (low prefix, high prefix) -> allowed lengths. Prefixes of one
# range have the same number of digits. Sources: ISO/IEC 7812 IIN registrations as published by
# the brands (Visa, Mastercard incl. the 2-series, Amex, Diners, Discover, JCB, UnionPay,
# Maestro, Mir, RuPay, Troy, Hipercard, Verve, Elo, Dankort fall inside these ranges).
_CARD_RANGES: tuple[tuple[str, str, frozenset[int]], ...] = (
    ("4", "4", frozenset({13, 16, 19})),  # Visa, Visa Electron, Elo (4xxx)
    ("51", "55", frozenset({16})),  # Mastercard
    ("2221", "2720", frozenset({16})),  # Mastercard 2-series
    ("2200", "2204", frozenset({16, 17, 18, 19})),  # Mir
    ("34", "34", frozenset({15})),  # American Express
    ("37", "37", frozenset({15})),
    ("300", "305", frozenset({14, 15, 16, 17, 18, 19})),  # Diners Club International
    ("3095", "3095", frozenset({14, 15, 16, 17, 18, 19})),
    ("36", "36", frozenset({14, 15, 16, 17, 18, 19})),
    ("38", "39", frozenset({14, 15, 16, 17, 18, 19})),  # Diners, Hipercard 3841
    ("35", "35", frozenset({16, 17, 18, 19})),  # JCB 3528-3589 (and 35xx numbers test generators print)
    ("2131", "2131", frozenset({15})),  # JCB (legacy 15-digit)
    ("1800", "1800", frozenset({15})),
    ("50", "50", frozenset(range(12, 20))),  # Maestro 50xx, Dankort, Verve, RuPay 508, Elo
    ("56", "69", frozenset(range(12, 20))),  # Maestro, Discover 6011/644-649/65, UnionPay 62, RuPay 60
    ("0604", "0604", frozenset(range(12, 20))),  # Maestro (legacy)
    ("81", "82", frozenset({16, 17, 18, 19})),  # UnionPay 81, RuPay 82
    ("9", "9", frozenset({16})),  # Troy 9792, PROSTIR 9804 (test generators use any 9xxx)
)


def luhn_ok(digits: str) -> bool:
    """The Luhn (mod 10) checksum over a string of digits."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if index % 2:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


_RANGES_BY_FIRST_DIGIT = {
    digit: tuple(r for r in _CARD_RANGES if r[0][0] <= digit <= r[1][0]) for digit in "0123456789"
}


def card_brand_ok(digits: str) -> bool:
    """Whether the number's prefix and length belong to a known card brand."""
    length = len(digits)
    for low, high, lengths in _RANGES_BY_FIRST_DIGIT.get(digits[:1], ()):
        if length in lengths and low <= digits[: len(low)] <= high:
            return True
    return False


def credit_card_ok(text: str) -> bool:
    """A 12-19 digit card number: consistent separators, a known brand, Luhn."""
    digits = text.replace(" ", "").replace("-", "")
    if (
        not 12 <= len(digits) <= 19
        or not digits.isdigit()
        or not card_brand_ok(digits)
        or not luhn_ok(digits)
    ):
        return False
    if len(digits) != len(text):
        if " " in text and "-" in text:
            return False
        groups = text.split(" " if " " in text else "-")
        # 4-4-4-4(-3), Amex/Diners 4-6-5 / 4-6-4, Maestro 4-4-4-x: no group shorter than 3 but the last.
        if any(len(group) < 3 for group in groups[:-1]) or len(groups[0]) != 4:
            return False
    return True


# Well-known numbers printed as SSN examples: structurally valid, never issued or voided.
SAMPLE_SSNS = frozenset({"078051120", "123456789", "219099999", "457555462"})


def ssn_ok(text: str) -> bool:
    """US SSN rules: area 001-899 except 666, group 01-99, serial 0001-9999.

    Samples such as 078-05-1120 and 123-45-6789 pass: see `SAMPLE_SSNS` (scored lower, still masked).
    """
    digits = "".join(filter(str.isdigit, text))
    if len(digits) != 9:
        return False
    area, group, serial = digits[:3], digits[3:5], digits[5:]
    if area in ("000", "666") or area[0] == "9":
        return False
    return group != "00" and serial != "0000" and len(set(digits)) > 1


# IBAN lengths by country (SWIFT IBAN registry, incl. partial members).
IBAN_LENGTHS: dict[str, int] = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22,
    "BI": 27, "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DJ": 27,
    "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FK": 18, "FO": 18, "FR": 27,
    "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28, "HN": 28, "HR": 21, "HU": 28,
    "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28,
    "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "LY": 25, "MC": 27, "MD": 24, "ME": 22,
    "MK": 19, "MN": 20, "MR": 27, "MT": 31, "MU": 30, "NI": 28, "NL": 18, "NO": 15, "OM": 23,
    "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "RU": 33, "SA": 24,
    "SC": 31, "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25, "SV": 28,
    "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20, "YE": 30,
    # Experimental / national-use IBANs seen in the wild.
    "AO": 25, "BF": 28, "BJ": 28, "CF": 27, "CG": 27, "CI": 28, "CM": 27, "CV": 25, "DZ": 26,
    "GA": 27, "GQ": 27, "GW": 25, "HT": 28, "IR": 26, "KM": 27, "MA": 28, "MG": 27, "ML": 28,
    "MZ": 25, "NE": 28, "SN": 28, "TD": 27, "TG": 28,
}  # fmt: skip


def iban_check(text: str) -> float:
    """Score an IBAN candidate: 1.0 when mod-97 holds and the length fits its country, lower when
    mod-97 holds but the country or length is off the registry, 0 when mod-97 fails."""
    compact = text.replace(" ", "").replace("-", "").upper()
    expected = IBAN_LENGTHS.get(compact[:2])
    if not 14 <= len(compact) <= 34 or not "02" <= compact[2:4] <= "98":
        return 0.0  # ISO 13616 check digits run 02..98
    if not compact.isalnum() or not compact.isascii():
        return 0.0
    rearranged = compact[4:] + compact[:4]
    number = "".join(str(int(c, 36)) for c in rearranged)
    if int(number) % 97 != 1:
        return 0.0
    if len(compact) == expected:
        return 1.0
    # A registered country with an odd length, or a country outside the registry using IBAN-style
    # account numbers (national schemes, test data): mod-97 alone still rejects 96% of look-alikes.
    return 0.6 if expected is not None else 0.5


_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4_CANONICAL = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}")
"""Four numbers 0-255 without leading zeros, in ASCII digits."""


def ipv4_ok(text: str) -> bool:
    if text.isascii():
        return _IPV4_CANONICAL.fullmatch(text) is not None
    parts = text.split(".")
    return len(parts) == 4 and all(p.isdigit() and int(p) <= 255 and (p == "0" or p[0] != "0") for p in parts)


def ipv6_ok(text: str) -> bool:
    """A real IPv6 address (compressed forms, embedded IPv4, zone ids), not a time or a MAC."""
    if text.count(":") < 2 or not any(c not in ":." for c in text):
        return False
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return True
