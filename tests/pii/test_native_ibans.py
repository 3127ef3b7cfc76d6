"""The native IBAN scan (`iban_spans`) finds exactly what its Python reference (`ibans`) finds.

The reference is `_IBAN`: a country and check digits (`\\d`, any script's), a look-behind, 2-7
groups of four and a tail of 1-3, each after an optional space, then a look-ahead; when that
fails, `re` gives back the tail's characters, the tail, then groups. Generated text aims at
those edges: uppercase and digit groups of 1-5 with and without spaces, hyphens, underscores,
lowercase and other scripts' letters and digits, NUL and newlines.
"""

from __future__ import annotations

import json
import random

import pytest

from broker.pii.context import SEPARATOR
from broker.pii.recognizers import ibans
from tests.pii.labelled import labelled_set

iban_spans = pytest.importorskip(
    "broker.pii._native", reason="broker.pii._native is not built (no Rust toolchain or crates): make native"
).iban_spans

OTHER_SCRIPTS = ["é", "\u0661", "\U0001d7ce", "\u00b2", "\u093e"]
PIECES = [*"ABDEGRZ0123456789 -_a@\n", *OTHER_SCRIPTS, SEPARATOR, "  ", "DE89", "GB82", "WEST", "1234"]
PIECES += ["FR14 2004 1010 0505 0001 3M02 606", "NL91ABNA0417164300", "DE\u0668\u0669"]
AFTER = ["", " ", "-", "_", "a", "é", "\u0661", ".", ",", SEPARATOR, "\n", "  A"]


def pieces(rng: random.Random) -> str:
    return "".join(rng.choice(PIECES) for _ in range(rng.randint(1, 40)))


def shaped(rng: random.Random) -> str:
    """A country, check digits and 0-9 groups of 1-5 characters, each after a space or not."""
    text = (
        rng.choice(["", " ", "-", "x", "é", "\n"])
        + rng.choice(["DE", "GB", "Gb"])
        + rng.choice(["89", "8", "\u0668\u0669"])
    )
    for _ in range(rng.randint(0, 9)):
        group = "".join(rng.choice("AZ09") for _ in range(rng.choice([1, 2, 3, 4, 4, 4, 5])))
        text += rng.choice(["", "", " ", "  "]) + group
    return text + rng.choice(AFTER)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_iban_spans_match_the_reference_on_generated_text(seed: int) -> None:
    rng = random.Random(seed)
    texts = [pieces(rng) for _ in range(30_000)] + [
        "".join(shaped(rng) for _ in range(3)) for _ in range(30_000)
    ]
    differ = [text for text in texts if iban_spans(text) != ibans(text)]
    assert not differ, f"{len(differ)} texts differ, first: {differ[0]!r}"


def test_iban_spans_match_the_reference_on_realistic_text() -> None:
    samples = labelled_set(seed=11, texts=1500, records=300)
    joined = SEPARATOR.join(sample.text for sample in samples)
    assert iban_spans(joined) == ibans(joined)
    records = json.dumps([sample.text for sample in samples], ensure_ascii=False)
    assert iban_spans(records) == ibans(records)
    assert len(ibans(joined)) > 300  # the text holds plenty of IBANs to find


def test_iban_spans_read_every_string_width() -> None:
    """Python stores a string in 1, 2 or 4 bytes a character: the offsets are its indices in each."""
    for extra in ("", "é", "€", "\U0001f600"):
        text = (
            extra
            + " DE89 3704 0044 0532 0130 00-, GB82WEST12345698765432-x, GB82 WEST 1234 5698 7654 3212345"
        )
        assert iban_spans(text) == ibans(text)
        # the tail '00' is given back (a '-' follows it); a '-' after the last group leaves no match
        assert [text[start:end] for start, end in iban_spans(text)] == [
            "DE89 3704 0044 0532 0130",
            "GB82 WEST 1234 5698 7654 3212345",
        ]


def test_an_iban_is_found_wherever_it_lies_among_the_positions_skipped_together() -> None:
    """Positions where no IBAN may start are skipped 32 at a time: an IBAN at every offset of a
    text, after any character, is found as the pattern finds it."""
    plain = "Met at the fair; call back about the order before Friday. " * 2
    for iban in ("DE89 3704 0044 0532 0130 00", "NL91ABNA0417164300", "DE\u0668\u0669 3704 0044 0532"):
        for at in range(0, 80):
            for before in ("", " ", "a", "-", "Z", "é", "\n"):
                text = plain[:at] + before + iban + " " + plain[at:]
                assert iban_spans(text) == ibans(text), (iban, at, before)
