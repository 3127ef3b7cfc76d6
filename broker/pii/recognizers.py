"""Pattern recognizers: e-mail, IBAN, IPv4/IPv6.

Each `find_*` runs one compiled regex over the scan and keeps the candidates its validator
accepts. Numbers (cards, SSNs, phones) and secrets live in their own modules;
`broker.pii.detector` runs them all.
"""

from __future__ import annotations

import re

from broker.pii.context import SEPARATOR, Found, Scan, ends_with_word
from broker.pii.validators import iban_check, ipv4_ok, ipv6_ok

# E-mail: find the '@' and the domain by regex (a literal first character keeps the scan fast),
# then walk back over the local part. A label is 1-63 of [\w-], first and last a letter or digit:
# taken whole (possessive, it can only end before a '.') and its last character checked after,
# where `[^\W_](?:[\w-]{0,61}[^\W_])?` gave back a character to match the last (same matches,
# ~25% less time: 3.3 -> 2.6 ms per MB of CRM records).
_EMAIL_DOMAIN = re.compile(
    r"@((?:[^\W_][\w-]{0,62}+(?<![_-])\.)+(?:[^\W\d_]{2,24}|xn--[a-z0-9-]{2,59}))(?![\w-])"
)
# The local part, read backwards from the '@' (letters and digits of any script, '_' and these).
_LOCAL_BACKWARDS = re.compile(r"[\w.%+\-'!#$&*=?^`{|}~/]*")
_LOCAL_TRIM = ".'%+-!#$&*=?^`{|}~/"


def emails(text: str) -> list[tuple[int, int]]:
    """Spans of the e-mail addresses in `text`: the domains `_EMAIL_DOMAIN` finds, each with the
    local part before its '@'.

    This is the reference for the native scan (broker/pii/native/, `make native`), which finds
    the same spans and is used instead wherever it is built."""
    spans = []
    for match in _EMAIL_DOMAIN.finditer(text):
        at = match.start()
        low = max(0, at - 64)
        back = _LOCAL_BACKWARDS.match(text[low:at][::-1])  # one C call, not a Python loop per character
        start = at - (back.end() if back else 0)
        while start < at and text[start] in _LOCAL_TRIM:
            start += 1
        if start == at or ".." in text[start:at] or text[at - 1] == ".":
            continue
        if start > 0 and text[start - 1] == ":" and "://" in text[max(0, start - 80) : start]:
            continue  # scheme://user:password@host: the password is a SECRET, not a mailbox
        if match.end() - start <= 254:
            spans.append((start, match.end()))
    return spans


# The boundary check follows the first four characters so the engine can skip on the first one.
_IBAN = re.compile(r"[A-Z][A-Z]\d\d(?<![\w-]....)(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,3})?(?![\w-])")


def ibans(text: str) -> list[tuple[int, int]]:
    """Spans of `_IBAN`'s matches in `text`, the reference for the native scan (as `emails` is)."""
    return [match.span() for match in _IBAN.finditer(text)]


try:
    from broker.pii._native import email_spans, iban_spans
except ImportError:  # not built: the same spans from the patterns
    email_spans, iban_spans = emails, ibans


def emails_found(text: str) -> list[Found]:
    """The e-mail addresses in `text` as findings: the reference for the native `email_found`
    (broker/pii/native/src/found.rs), which makes the same tuples without the spans between."""
    return [(start, end, "EMAIL_ADDRESS", 1.0) for start, end in email_spans(text)]


def find_emails(scan: Scan, out: list[Found]) -> None:
    out.extend(email_found(scan.text))


def find_ibans(scan: Scan, out: list[Found]) -> None:
    text = scan.text
    for start, end in iban_spans(text):
        score = iban_check(text[start:end])
        if score:
            out.append((start, end, "IBAN_CODE", score))


# IP addresses: a literal first character ('.' or ':') lets the regex engine skip ahead fast;
# the digits or hex groups before it are then matched in place.
_IPV4_TAIL = re.compile(r"\.\d{1,3}\.\d{1,3}\.\d{1,3}(?![\w]|\.\d)")
# The address whose tail a hint found: its first number starts one to three characters before the
# hint, tried nearest the hint last (one match call where three were).
_IPV4_FROM = re.compile(r"[\s\S]{0,2}?(?<![\w.])(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})(?![\w]|\.\d)")
_IPV6_HINT = re.compile(r":[0-9A-Fa-f]{0,4}:")
_IPV6 = re.compile(
    r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:(?:\d{1,3}\.){3}\d{1,3}|[0-9A-Fa-f]{1,4})?(?:%[\w.]{1,15})?"
    r"(?![\w:]|\.\d)"
)
# Every address kept holds '::', or seven colons (six and an IPv4 tail): six colons with 1-4 hex
# digits between each two.
_IPV6_POSSIBLE = re.compile(r"::|:(?:[0-9A-Fa-f]{1,4}:){5}")
# `\b(?:version|ver|release|build|firmware|v)[\s.:=#]*$`, matched on the reversed text.
_VERSION_BEFORE = ends_with_word("version ver release build firmware v", r"\s.:=#")
_VERSION_LAST = frozenset("nNrReEdDvV")
"""The last letters of those words, the characters their reversed pattern can begin with after the
trailing run (`re` folds no other character to them: tests/pii checks every one)."""
_VERSION_TRAILING = frozenset(".:=#")
_HEX_COLON = frozenset("0123456789abcdefABCDEF:")
_ADDRESS_RUN = re.compile(r"[\w:.%]*")


def ipv4_addresses(text: str) -> list[tuple[int, int]]:
    """Spans of the IPv4 addresses in `text`: valid (`ipv4_ok`), and not a version ('v 1.2.3.4').

    This is the reference for the native scan (broker/pii/native/src/ips.rs, `make native`),
    which finds the same spans and is used instead wherever it is built."""
    spans = []
    for hint in _IPV4_TAIL.finditer(text):
        match = _IPV4_FROM.match(text, max(0, hint.start() - 3))
        if match is None or match.end() != hint.end() or not ipv4_ok(match.group(1)):
            continue
        start = match.start(1)
        if not _version_before(text, start):
            spans.append((start, match.end()))
    return spans


def ipv6_candidates(text: str) -> list[tuple[int, int]]:
    """Spans of the IPv6 address candidates in `text`: `ipv6_ok` decides on each.

    Only strings that hold '::' or six colons in a row of hex groups can hold an address that
    is kept: the times and other hints elsewhere (one per timestamp) are never looked at. This is
    the reference for the native scan (src/ips.rs), as `ipv4_addresses` is."""
    spans: list[tuple[int, int]] = []
    high = -1
    for possible in _IPV6_POSSIBLE.finditer(text):
        if possible.start() >= high:
            low = text.rfind(SEPARATOR, 0, possible.start()) + 1
            high = text.find(SEPARATOR, possible.end())
            high = len(text) if high < 0 else high
            _find_ipv6(text, low, high, spans)
    return spans


try:
    from broker.pii._native import ipv4_spans, ipv6_spans
except ImportError:  # not built: the same spans from the patterns
    ipv4_spans = ipv4_addresses
    ipv6_spans = ipv6_candidates


def ipv4s_found(text: str) -> list[Found]:
    """The IPv4 addresses in `text` as findings: the reference for the native `ipv4_found`, as
    `emails_found` is."""
    return [(start, end, "IP_ADDRESS", 0.95) for start, end in ipv4_spans(text)]


try:
    from broker.pii._native import email_found, ipv4_found
except ImportError:  # not built: the same findings from the spans
    email_found, ipv4_found = emails_found, ipv4s_found


def find_ips(scan: Scan, out: list[Found]) -> None:
    text = scan.text
    out.extend(ipv4_found(text))
    for start, end in ipv6_spans(text):
        if ipv6_ok(text[start:end]):
            out.append((start, end, "IP_ADDRESS", 0.95))


def _version_before(text: str, start: int) -> bool:
    """`_VERSION_BEFORE` on the 24 characters before `start` (not reaching back past a NUL), tried
    only where the character before their trailing run may end one of its words: most addresses
    follow 'from ' or a quote, and the slice, reversal and match cost ~0.8 µs an address, this look
    back ~0.15."""
    low = max(0, start - 24)
    at = start
    while at > low and (text[at - 1] in _VERSION_TRAILING or text[at - 1].isspace()):
        at -= 1
    if at == low or text[at - 1] not in _VERSION_LAST:
        return False
    cut = text.rfind(SEPARATOR, low, start)
    return _VERSION_BEFORE.match(text[(cut + 1 if cut >= 0 else low) : start][::-1]) is not None


def _find_ipv6(text: str, low: int, high: int, spans: list[tuple[int, int]]) -> None:
    """IPv6 address candidates in text[low:high], one string of the scan (no NUL inside)."""
    done = 0
    for hint in _IPV6_HINT.finditer(text, low, high):
        if hint.start() < done:
            continue
        # An address starts where its run of hex digits and colons starts; try there once per run.
        start = hint.start()
        while start > 0 and start > hint.start() - 40 and text[start - 1] in _HEX_COLON:
            start -= 1
        run = _ADDRESS_RUN.match(text, hint.start())
        done = run.end() if run is not None else hint.end()
        match = _IPV6.match(text, start)
        if match is None:
            continue
        value = match.group()
        colons = value.count(":")
        if "::" in value or colons == 7 or (colons == 6 and "." in value):
            spans.append(match.span())
