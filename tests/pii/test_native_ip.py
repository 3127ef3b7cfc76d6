"""The native IP finders (broker/pii/native/src/ips.rs) find exactly what their Python references find.

`ipv4_addresses` is two `re` patterns, `ipv4_ok` and a look back for a version word; the native
scan is held to its spans on text generated around their edges (dots, runs of 1 to 4 digits of
several scripts, leading zeros, 255 and 256, the version words in any case with what may stand
between them and the address, NUL between strings) and on realistic text in many locales.
`ipv6_candidates` is three patterns and a loop; the same for its colons, hex runs of 0 to 5,
embedded IPv4 tails, zones and what may stand around them.
"""

from __future__ import annotations

import json
import random
import re
import unicodedata

import pytest

from broker.pii.context import SEPARATOR
from broker.pii.recognizers import ipv4_addresses, ipv6_candidates
from broker.pii.validators import ipv6_ok
from tests.pii.labelled import labelled_set

_native = pytest.importorskip(
    "broker.pii._native", reason="broker.pii._native is not built (no Rust toolchain or crates): make native"
)

# Characters beyond ASCII that `re`, ignoring case, takes for letters of the version words.
FOLDED = "\u0130\u0131\u017f"  # dotted capital I, dotless i, long s

# Numbers as an address's parts may be: 1 to 4 digits, leading zeros, the largest octet and the
# first too large, digits of other scripts (a zero that is not ASCII '0' leads no number to
# `ipv4_ok`), and things that are not digits to `re` but are to str.isdigit.
NUMBERS = [
    *"0123456789",
    "00",
    "01",
    "10",
    "99",
    "100",
    "199",
    "200",
    "249",
    "250",
    "255",
    "256",
    "260",
    "300",
    "999",
    "1234",
    "\u0661",  # Arabic-Indic one
    "\u0660\u0661",  # Arabic-Indic zero one
    "\u0662\u0665\u0665",  # Arabic-Indic 255
    "\u0662\u0665\u0666",  # Arabic-Indic 256
    "\u0967\u0966",  # Devanagari 10
    "\U0001d7cf",  # mathematical bold one: a digit outside the BMP
    "1\uff10",  # one, fullwidth zero
    "0\u0661",  # ASCII zero first
    "\u00b2",  # superscript two: isdigit, not a decimal
]
# What stands around them: dots, the version words in several cases (and with folded letters),
# what `_VERSION_BEFORE` lets stand between a word and the address, word characters, NUL.
WORDS = [
    ".",
    ".",
    ".",
    "..",
    " ",
    "  ",
    "\n",
    "\t",
    "\u2003",  # em space: \s beyond ASCII
    "\u00a0",
    "\x1c",  # a file separator: \s to `re` too
    ":",
    "=",
    "#",
    "/",
    "-",
    "_",
    "a",
    "é",
    "\u093e",  # a Devanagari vowel sign: alphabetic to Unicode, not \w to `re`
    SEPARATOR,
    "version",
    "Version",
    "VERSION",
    "ver",
    "VER.",
    "Ver:",
    "v",
    "V",
    "v=",
    "release",
    "build",
    "BUILD#",
    "firmware",
    "Firmware: ",
    "rev",
    "versions",
    "xv",
    "ver\u017fion",
    "f\u0130rmware",
    "bu\u0131ld",
    "from ",
]


def generated(seed: int, count: int) -> list[str]:
    rng = random.Random(seed)
    texts = []
    for _ in range(count):
        pieces = []
        for _ in range(rng.randint(1, 30)):
            pieces.append(rng.choice(NUMBERS) if rng.random() < 0.5 else rng.choice(WORDS))
        texts.append("".join(pieces))
    return texts


def addresses(seed: int, count: int) -> list[str]:
    """Texts holding 3 to 5 numbers joined by dots after a word or separators: address-shaped."""
    rng = random.Random(seed)
    texts = []
    for _ in range(count):
        parts = rng.randint(3, 5)
        numbers = [rng.choice(NUMBERS[:20] if rng.random() < 0.8 else NUMBERS) for _ in range(parts)]
        before = "".join(rng.choice(WORDS) for _ in range(rng.randint(0, 3)))
        after = "".join(rng.choice(WORDS + NUMBERS) for _ in range(rng.randint(0, 2)))
        texts.append(before + ".".join(numbers) + after)
    return texts


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_ipv4_spans_match_the_reference_on_generated_text(seed: int) -> None:
    texts = generated(seed, 20_000) + addresses(seed, 20_000)
    differ = [text for text in texts if _native.ipv4_spans(text) != ipv4_addresses(text)]
    assert not differ, f"{len(differ)} texts differ, first: {differ[0]!r}"
    # The texts hold addresses of each kind, and versions: the test is no empty comparison.
    found = sum(len(ipv4_addresses(text)) for text in texts)
    shaped = sum(len(re.findall(r"(?<![\d.])\d{1,3}(?:\.\d{1,3}){3}(?![\d])", text)) for text in texts)
    assert found > 800 and shaped > 5 * found


def test_an_address_is_found_wherever_it_lies_among_the_dots_skipped_together() -> None:
    """Dots no digit follows are skipped 32 positions at a time: an address at every offset of a
    text of e-mails and sentences, after any character, is found as the pattern finds it."""
    plain = "Mail ann.example@mail3.example.com. Then v. 2. Sent 12.50 at 9.30. " * 2
    for address in ("10.1.2.3", "192.168.001.1", "1.2.3.4.5", "\u0661.2.3.4", "256.1.1.1"):
        for at in range(0, 80):
            for before in ("", " ", "a", ".", "v", "1", "\n"):
                text = plain[:at] + before + address + " " + plain[at:]
                assert _native.ipv4_spans(text) == ipv4_addresses(text), (address, at, before)


def test_ipv4_spans_match_the_reference_on_realistic_text() -> None:
    samples = labelled_set(seed=11, texts=1500, records=300)
    joined = SEPARATOR.join(sample.text for sample in samples)
    assert _native.ipv4_spans(joined) == ipv4_addresses(joined)
    records = json.dumps([sample.text for sample in samples], ensure_ascii=False)
    assert _native.ipv4_spans(records) == ipv4_addresses(records)
    assert len(ipv4_addresses(joined)) > 150  # the text holds plenty of addresses to find


def test_ipv4_spans_read_every_digit_of_every_script() -> None:
    """Each `\\d` beyond ASCII as a number's only, first, middle and last digit, and where its
    value takes the number over 255 or not (d55, d56, 2d5, 2d6, 25d: a value up to 2, 1, 5, 4, 5)."""
    digits = [chr(point) for point in range(0x80, 0x110000) if chr(point).isdecimal()]
    for d in digits:
        text = f"{d}.1.1.1 ({d}{d}.2{d}.{d}0.25{d}) 1{d}.{d}.{d}{d}{d}.0\x00{d}{d}.{d}.1.1 v{d}.1.1.1"
        for number in (f"{d}55", f"{d}56", f"2{d}5", f"2{d}6", f"25{d}", f"0{d}", f"{d}0{d}"):
            text += f" 1.{number}.1.1, {number}.1.1.{d}"
        assert _native.ipv4_spans(text) == ipv4_addresses(text), text


def test_digit_values_follow_the_tables_rows() -> None:
    """The native code reads a digit's value as its distance from its table row's start, mod 10."""
    low = None
    for point in range(0x80, 0x110001):
        decimal = point < 0x110000 and chr(point).isdecimal()
        if decimal and low is None:
            low = point
        if decimal:
            assert unicodedata.decimal(chr(point)) == (point - low) % 10 == int(chr(point))  # type: ignore[operator]
        else:
            low = None


def test_the_version_words_fold_only_from_the_characters_the_native_code_knows() -> None:
    every_character = "".join(map(chr, range(0x110000)))
    letters = "".join(sorted(set("versionreleasebuildfirmware")))
    folded = set(re.findall(f"(?i)[{letters}]", every_character)) - set(letters + letters.upper())
    assert folded == set(FOLDED)
    for word in ("version", "ver", "release", "build", "firmware", "v"):
        for k, letter in enumerate(word):
            for c in [letter.upper(), *(f for f in FOLDED if re.fullmatch(f"(?i){letter}", f))]:
                text = f"{word[:k]}{c}{word[k + 1 :]} 10.0.0.1, x{word[:k]}{c}{word[k + 1 :]}:10.0.0.2"
                assert _native.ipv4_spans(text) == ipv4_addresses(text), text


def test_the_version_word_must_begin_inside_the_24_characters_before() -> None:
    """The look back sees 24 characters: a word cut by that edge (or by a NUL) reads as the word's end."""
    for prefix in ("", "x", "xx", "\x00", "a\x00"):
        for word in ("version", "v", "ver.", "Firmware"):
            for spaces in range(0, 26):
                for gap in (" ", "\u3000", ".:=#"[spaces % 4]):
                    text = f"{prefix}{word}{gap * spaces}192.168.0.1"
                    assert _native.ipv4_spans(text) == ipv4_addresses(text), text
    assert ipv4_addresses("xversion" + " " * 17 + "10.0.0.1") == []  # 'version' starts the window
    assert ipv4_addresses("xversion" + " " * 16 + "10.0.0.1") == [(24, 32)]  # 'xversion' is no word


def test_ipv4_spans_read_every_string_width() -> None:
    """Python stores a string in 1, 2 or 4 bytes a character: the offsets are its indices in each."""
    for extra in ("", "é", "€", "\U0001f600"):
        text = extra + "from 10.0.0.1 to 192.168.1.254, not version 1.2.3.4 or 1.2.3.4.5 or 256.1.1.1"
        assert _native.ipv4_spans(text) == ipv4_addresses(text)
        assert [text[start:end] for start, end in _native.ipv4_spans(text)] == ["10.0.0.1", "192.168.1.254"]


# What the IPv6 patterns turn on: colons single and double, hex runs of 1 to 5 (upper and lower
# case, and a letter that is no hex digit), IPv4 tails, zones ('%' and what a zone may hold, a
# '.' inside or after it), what may not stand before or after an address, times, NUL.
V6_PIECES = [
    ":",
    ":",
    ":",
    "::",
    "0",
    "1",
    "12",
    "abc",
    "ffff",
    "FFFF",
    "12345",
    "fe80",
    "2001:db8",
    "db8:",
    "1:",
    "a:b:",
    "g",
    "x",
    "1.2.3.4",
    "10.0.0",
    ".",
    ".5",
    "256",
    "\u0661",  # Arabic-Indic one: a digit to the IPv4 tail, no hex digit
    "%",
    "%eth0",
    "eth0.1",
    "_",
    "-",
    "é",
    " ",
    "\n",
    "12:30:00",
    "/",
    "[",
    "]",
    SEPARATOR,
]


def v6_generated(seed: int, count: int) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choice(V6_PIECES) for _ in range(rng.randint(1, 30))) for _ in range(count)]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_ipv6_spans_match_the_reference_on_generated_text(seed: int) -> None:
    texts = v6_generated(seed, 40_000)
    differ = [text for text in texts if _native.ipv6_spans(text) != ipv6_candidates(text)]
    assert not differ, f"{len(differ)} texts differ, first: {differ[0]!r}"
    spans = [(text, span) for text in texts for span in ipv6_candidates(text)]
    zoned = [text[start:end] for text, (start, end) in spans if "%" in text[start:end]]
    dotted = [text[start:end] for text, (start, end) in spans if "." in text[start:end]]
    valid = [text[start:end] for text, (start, end) in spans if ipv6_ok(text[start:end])]
    assert len(spans) > 3000 and len(zoned) > 200 and len(dotted) > 150 and len(valid) > 1000


def test_ipv6_spans_match_the_reference_on_realistic_text() -> None:
    samples = labelled_set(seed=11, texts=1500, records=300)
    joined = SEPARATOR.join(sample.text for sample in samples)
    assert _native.ipv6_spans(joined) == ipv6_candidates(joined)
    records = json.dumps([sample.text for sample in samples], ensure_ascii=False)
    assert _native.ipv6_spans(records) == ipv6_candidates(records)
    assert len(ipv6_candidates(joined)) > 50


def test_ipv6_spans_read_every_string_width() -> None:
    for extra in ("", "é", "€", "\U0001f600"):
        text = extra + "from fe80::1%eth0 to 2001:db8:0:0:0:0:2:1 at 12:30:00, ::ffff:10.0.0.1."
        assert _native.ipv6_spans(text) == ipv6_candidates(text)
        assert [text[start:end] for start, end in _native.ipv6_spans(text)] == [
            "fe80::1%eth0",
            "2001:db8:0:0:0:0:2:1",
            "::ffff:10.0.0.1",
        ]


def test_ipv6_spans_match_after_long_runs_of_hex_digits_and_colons() -> None:
    """`_find_ipv6` walks back up to 40 hex digits and colons from a hint for an address's start."""
    for size in range(30, 50):
        for run in ("a" * size, ("ab:" * size)[:size], ("1:" * size)[:size]):
            for text in (f"{run}::1", f" {run}::1", f"x{run}::1 ::2", f"{run}:0:0:0:0:0:1"):
                assert _native.ipv6_spans(text) == ipv6_candidates(text), text
