"""The native scans (broker/pii/native/) find exactly what their Python references find.

Each native function stands for a `re` pattern and the Python around it; the two are held to
the same output on text generated to hit the patterns' edges (separators, spaces, extensions,
digits and letters of other scripts, NUL between strings) and on realistic text in many
locales, and the Unicode tables the native code uses are checked against this Python's.
"""

from __future__ import annotations

import importlib.util
import json
import random
from pathlib import Path
from types import ModuleType

import pytest

from broker.pii.context import SEPARATOR
from broker.pii.recognizers_number import runs
from tests.pii.labelled import labelled_set

_native = pytest.importorskip(
    "broker.pii._native", reason="broker.pii._native is not built (no Rust toolchain or crates): make native"
)

CRATE = Path(__file__).resolve().parents[2] / "broker" / "pii" / "native"

# What the digit-run pattern turns on: digits of several scripts, its separators and spaces,
# '+' and parentheses, extensions, what may not stand before or after a run, and other text.
PIECES = [
    *"0123456789 +()-./,x:%@#$&_ae\n",
    "ext",
    "extension",
    "  ",
    "\u0661",  # Arabic-Indic one
    "\u0967",  # Devanagari one
    "\U0001d7ce",  # mathematical bold zero: a digit outside the BMP
    "\u00b2",  # superscript two: isdigit, not a decimal
    "é",
    "€",
    "£",
    "\u093e",  # a Devanagari vowel sign: alphabetic to Unicode, not \w to `re`
    "\u0300",  # a combining accent
    SEPARATOR,
]


def generated(seed: int, count: int) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choice(PIECES) for _ in range(rng.randint(1, 40))) for _ in range(count)]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_number_runs_match_the_patterns_on_generated_text(seed: int) -> None:
    differ = [text for text in generated(seed, 40_000) if _native.number_runs(text) != runs(text)]
    assert not differ, f"{len(differ)} texts differ, first: {differ[0]!r}"


def test_number_runs_match_the_patterns_on_realistic_text() -> None:
    samples = labelled_set(seed=11, texts=1500, records=300)
    joined = SEPARATOR.join(sample.text for sample in samples)
    assert _native.number_runs(joined) == runs(joined)
    records = json.dumps([sample.text for sample in samples], ensure_ascii=False)
    assert _native.number_runs(records) == runs(records)
    assert len(runs(joined)) > 1000  # the text holds plenty of numbers to find


def test_a_run_is_found_wherever_it_lies_among_the_positions_skipped_together() -> None:
    """Positions where no run may start are skipped 32 at a time: a number at every offset of a
    text, glued to what stands before it or not, is found as the pattern finds it."""
    plain = "Met at the fair; call back about the order before Friday. " * 2
    for number in (
        "+44 20 7946 0958",
        "(212) 555-0143",
        "1234567",
        "12",
        "\u0661\u0662\u0663\u0664\u0665\u0666\u0667",
    ):
        for at in range(0, 80):
            for glue in ("", " ", "a", "_", "-", ".", "#", "é", "€", "£", "¥", "\n"):
                text = plain[:at] + glue + number + " " + plain[at:]
                assert _native.number_runs(text) == runs(text), (number, at, glue)


def test_number_runs_read_every_string_width() -> None:
    """Python stores a string in 1, 2 or 4 bytes a character: the offsets are its indices in each."""
    for extra in ("", "é", "€", "\U0001f600"):
        text = extra + "call +44 20 7946 0958 or (212) 555-0143 x12, order 1234567890"
        assert _native.number_runs(text) == runs(text)
        assert [text[start:end] for start, end in _native.number_runs(text)] == [
            "+44 20 7946 0958",
            "(212) 555-0143 x12",
            "1234567890",
        ]


def test_the_unicode_tables_are_this_pythons() -> None:
    spec = importlib.util.spec_from_file_location("native_tables", CRATE / "tables.py")
    assert spec is not None and spec.loader is not None
    tables: ModuleType = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tables)
    assert (CRATE / "src" / "tables.rs").read_text() == tables.source(), (
        "src/tables.rs is stale: regenerate it with broker/pii/native/tables.py"
    )
