"""The native number finder (`find_numbers` over broker/pii/native/src/numbers.rs) finds exactly
what `reference_find_numbers` finds: the same findings, in the same order, with the same scores.

The text is generated to reach each decision the native side takes or hands back: a code glued
on before a run (`AB12 3456789`), bare ids opening a value under keys that name an id, an amount
or a phone, '+' numbers with every country code (real, unassigned, written with leading zeros or
other scripts' digits), '(0)' trunks, extensions, lengths at the 7 and 15 digit limits, context
words, NUL between strings and inside one, newlines, and strings of every storage width.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence

import pytest

from broker.pii import phones, recognizers_number
from broker.pii.context import SEPARATOR, Found, Scan
from broker.pii.detector import starts_of
from broker.pii.recognizers_number import find_numbers, reference_find_numbers
from tests.pii.labelled import labelled_set

_native = pytest.importorskip(
    "broker.pii._native", reason="broker.pii._native is not built (no Rust toolchain or crates): make native"
)

ENTITY_SETS = [
    frozenset({"CREDIT_CARD", "US_SSN", "PHONE_NUMBER"}),
    frozenset({"PHONE_NUMBER"}),
    frozenset({"CREDIT_CARD", "US_SSN"}),
    frozenset({"US_SSN", "PHONE_NUMBER"}),
]
DIGITS = "0123456789"
OTHER_DIGITS = "\u0660\u0661\u0669\u0967\u096f\uff10\uff11\U0001d7ce\U0001d7d7"  # Arabic, Devanagari, ...
PIECES = [
    *DIGITS,
    *DIGITS,
    *OTHER_DIGITS,
    "\u00b2",  # superscript two: isdigit, not a decimal
    *"+()-./ ,:%@#$&_\n",
    "(0)",
    "  ",
    "x",
    "ext",
    "ext.",
    "extension",
    "a",
    "AB1",
    "Z9",
    "é",
    "€",
    "\u093e",  # a Devanagari vowel sign
    "EUR ",
    "phone ",
    "Tel: ",
    "call ",
    "order #",
    "id ",
    "card ",
    "SSN: ",
    "Invoice: ",
    "EAN ",
    "at ",
    "k",
    "+1 415 555 0001",
    "+44 (0)20 7946 0958",
    "+49(0)4656341483",
    "0044 20 7946 0958",
    "(212) 555-0143",
    "1100001",
    "123-45-6789",
    "4111 1111 1111 1111",
    "4111111111111111",
]
# Whole values of each shape `_national` and `_bare` tell apart (a string value is decided
# natively from its key alone).
VALUES = [
    "2024-01-31",
    "31/01/2024",
    "2024-01-31 x12",
    "2024-01-311",
    "12345-6789",
    "1-212-555-0143",
    "212.555.0143",
    "12.34.56.78",
    "01.23.45.67.89",
    "123 456 789",
    "123 456 7890",
    "(+44) 20 7946 0958",
    "001-428-465-7070x49996",
    "0612345678 0698765432",
    "4111-1111-1111-1111",
    "4111 1111 1111 1111 x1",
    "078-05-1120",
    "078 05 1120",
    "078051120",
    "6011 0009 9013 9424",
    "00442079460958",
    "0044 20 7946 0958",
    "4155550143",
    "04155550143",
    "0015550143",
    "015-8683449",
    "(0113)4960045",
    "030 901820",
    "212.555.101.143 x9",
    "80.12.34.56 x1",
    "12345-6789 x1",
    "02345-6789 x1",
    "03-01/2345",
    "12-01/2024",
    "2345 6789",
    "23 45 67 89",
    "9123 4567",
    "0012345678",
    "00376312345",
]
KEYS: list[str | None] = [
    None,
    "",
    "id",
    "ID",
    "order_id",
    "Order-Id",
    "amount",
    "created_at",
    "phone",
    "mobile_phone",
    "phone_id",
    "tel",
    "card_number",
    "ssn",
    "note",
    "é",
    "\U0001f600",
]


def numbers(rng: random.Random) -> str:
    """A '+' number, an id or a grouped number of 5 to 17 digits, now and then in other digits."""
    count = rng.randint(5, 17)
    alphabet = OTHER_DIGITS if rng.random() < 0.1 else DIGITS
    digits = "".join(rng.choice(alphabet) for _ in range(count))
    if rng.random() < 0.5:
        cut = rng.randint(1, 4)
        digits = digits[:cut] + rng.choice([" ", "", "-", " (0)", "(0)", " (0) ", ".", "  "]) + digits[cut:]
    if rng.random() < 0.3:
        middle = rng.randint(2, len(digits))
        digits = digits[:middle] + rng.choice([" ", "-", "/", "."]) + digits[middle:]
    if rng.random() < 0.15:
        digits += rng.choice([" x", "x", " ext. ", "ext", " extension "]) + "1234567"[: rng.randint(0, 7)]
    return rng.choice(["+", "+", "", "00", "+ ", "(", "+0"]) + digits


def code(rng: random.Random) -> str:
    """A word of up to 32 characters with a digit somewhere (or none), then a space: around the
    30 characters `_GLUED_BEFORE` looks back over."""
    letters = [rng.choice("abcXYZ_é\u093e") for _ in range(rng.randint(0, 32))]
    if letters and rng.random() < 0.8:
        letters[rng.choice([0, -1, rng.randrange(len(letters))])] = rng.choice("7\u0661\u00b2")
    return "".join(letters) + " "


def text(rng: random.Random, pieces: int) -> str:
    def piece(draw: float) -> str:
        if draw < 0.2:
            return numbers(rng)
        return code(rng) + numbers(rng) if draw < 0.3 else rng.choice(PIECES)

    return "".join(piece(rng.random()) for _ in range(pieces))


def scans(seed: int) -> Iterator[Scan]:
    """Strings joined as `Detector` joins them (with keys and without), and strings alone."""
    rng = random.Random(seed)
    for _ in range(60):
        texts = [
            rng.choice(VALUES) if rng.random() < 0.2 else text(rng, rng.randint(0, 12)).replace(SEPARATOR, "")
            for _ in range(rng.randint(1, 40))
        ]
        keys = [rng.choice(KEYS) for _ in texts]
        joined = SEPARATOR.join(texts)
        yield Scan(joined, starts_of(texts), keys)
        yield Scan(joined, tuple(starts_of(texts)), tuple(keys))
        yield Scan(joined)
        with_nul = text(rng, 30) + SEPARATOR + text(rng, 10)
        yield Scan(with_nul, [0], [rng.choice(KEYS)])  # a string holding NUL, scanned alone
        yield Scan(with_nul)


def differences(scan: Scan) -> list[tuple[frozenset[str], list[Found], list[Found]]]:
    found = []
    for entities in ENTITY_SETS:
        native: list[Found] = [(-1, -1, "before", 0.0)]  # what is already in the list stays
        reference: list[Found] = [(-1, -1, "before", 0.0)]
        find_numbers(scan, native, entities)
        reference_find_numbers(scan, reference, entities)
        if native != reference:
            found.append((entities, native, reference))
    return found


@pytest.fixture
def fresh_memos(monkeypatch: pytest.MonkeyPatch) -> None:
    """Empty memos of key verdicts and country codes: the native side fills them as it goes."""
    monkeypatch.setattr(recognizers_number, "_KEY_KINDS", {})
    monkeypatch.setattr(recognizers_number, "_CODE_LENGTHS", [-1] * 1000)


@pytest.mark.parametrize("seed", range(6))
def test_the_same_findings_on_generated_text(seed: int, fresh_memos: None) -> None:
    differ = [(scan.text, d) for scan in scans(seed) if (d := differences(scan))]
    assert not differ, f"{len(differ)} scans differ, first: {differ[0]!r}"


def test_every_country_code_and_length(fresh_memos: None) -> None:
    rng = random.Random(5)
    texts: list[str] = []
    for code in range(1000):
        for length in range(3, 16):
            national = "".join(rng.choice(DIGITS) for _ in range(length))
            texts.append(f"+{code} {national}")
            texts.append(f"+{code}{national}")
            texts.append(f"+{code} (0){national}")
            texts.append(f"+{code}{national[:2]} {national[2:]} x12")
            texts.append(f"call +{code:03d} 0{national}")
    for start in range(0, len(texts), 500):
        chunk = texts[start : start + 500]
        scan = Scan(SEPARATOR.join(chunk), starts_of(chunk), [None] * len(chunk))
        assert not differences(scan), chunk


def test_the_same_findings_on_the_labelled_set() -> None:
    samples = labelled_set(7)
    texts = [sample.text for sample in samples if SEPARATOR not in sample.text]
    keys: Sequence[str | None] = [sample.key for sample in samples if SEPARATOR not in sample.text]
    for size in (1, 7, 100, len(texts)):
        for start in range(0, len(texts), size):
            chunk, chunk_keys = texts[start : start + size], keys[start : start + size]
            assert not differences(Scan(SEPARATOR.join(chunk), starts_of(chunk), chunk_keys))


def test_the_hot_runs_are_decided_natively() -> None:
    """Ids under an id key, '+' numbers and glued codes never come back to Python."""
    texts = ["1100001", "+1 415 555 0001", "+44 (0)20 7946 0958 x12", "part AB12 3456789", "+9991234"]
    keys = ["id", "phone", None, "note", "note"]
    found, deferred = _native.number_findings(
        SEPARATOR.join(texts),
        starts_of(texts),
        keys,
        {},
        recognizers_number._key_kinds,
        [-1] * 1000,
        recognizers_number._code_lengths,
        recognizers_number.credit_card_ok,
        phones.valid_somewhere,
        4,
    )
    assert deferred == []
    assert found == [(8, 23, "PHONE_NUMBER", 0.9), (24, 47, "PHONE_NUMBER", 0.9)]


def test_the_fallback_leaves_every_run_to_python(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(recognizers_number, "number_findings", recognizers_number.none_decided)
    differ = [(scan.text, d) for scan in scans(9) if (d := differences(scan))]
    assert not differ, f"{len(differ)} scans differ, first: {differ[0]!r}"
