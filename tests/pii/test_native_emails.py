"""The native e-mail scan (`email_spans`) finds exactly what its Python reference (`emails`) finds.

The reference is `_EMAIL_DOMAIN` (labels, a possessive count, a look-behind, two endings and a
look-ahead, the repeated labels given back one at a time when the ending fails) and the local
part read back from the '@'. Generated text aims at their edges: dots, hyphens, underscores,
'@' runs, 'xn--', labels of 62-64 characters, local parts of 64 and more, endings of 24 and 25
letters, letters and digits of other scripts, 'scheme://user:password@', NUL and newlines.
"""

from __future__ import annotations

import json
import random

import pytest

from broker.pii.context import SEPARATOR
from broker.pii.recognizers import emails
from tests.pii.labelled import labelled_set

email_spans = pytest.importorskip(
    "broker.pii._native", reason="broker.pii._native is not built (no Rust toolchain or crates): make native"
).email_spans

OTHER_SCRIPTS = [
    "é",
    "ß",
    "\u0661",  # Arabic-Indic one: \w and \d
    "\U0001d7ce",  # mathematical bold zero: a digit outside the BMP
    "\u00b2",  # superscript two: \w but not \d, so a letter to `[^\W\d_]`
    "\u093e",  # a Devanagari vowel sign: alphabetic to Unicode, not \w to `re`
    "\U00010400",  # Deseret capital long I: a letter outside the BMP
]
PIECES = [
    *"abxnAZ09-_.@:/ %+'!#$&*=?^`{|}~\n",
    *OTHER_SCRIPTS,
    SEPARATOR,
    "@@",
    "..",
    "xn--",
    "://",
    "a" * 61,
    "a" * 62,
    "a" * 63,
    "b" * 64,
    "c" * 65,
    "com",
    "co",
    "abcdefghijklmnopqrstuvwx",  # 24 letters: the longest ending
    "abcdefghijklmnopqrstuvwxy",
    "x" * 57,
    "a1" * 30,
    "user.name+tag",
    "example.org",
    "http://",
]
# Parts of address-shaped text: a local part, '@', labels joined by '.', an ending.
LOCALS = ["a", "b.c", "user.name+tag", "x_y", "é", "\u0661", "-", ".", "..", "'", "!#$&*=?^`{|}~/%+"]
LOCALS += ["b" * 63, "b" * 64, "c" * 70, "http://u:", "s://", ":", "a:"]
LABELS = ["a", "b1", "x-y", "a_b", "-a", "a-", "_a", "é", "\u0661", "\u00b2", "ß", "A", "xn--", "xn--p1ai"]
LABELS += ["a" * 62, "a" * 63, "a" * 64, "", "a..b", "1"]
ENDINGS = [
    "com",
    "co",
    "c",
    "ORG",
    "éé",
    "\u00b2\u00b2",
    "a1",
    "abcdefghijklmnopqrstuvwx",
    "abcdefghijklmnopqrstuvwxy",
]
ENDINGS += [
    "xn--p1ai",
    "xn--" + "a" * 59,
    "xn--" + "a" * 60,
    "xn--a",
    "xn--Ab",
    "com-",
    "com_",
    "com.",
    "com\u0661",
    "",
]
ENDINGS += ["123", "xn--p1ai-", "\U00010400\U00010400"]
NOISE = [*"abAZ09-_.@:/ %+'!\n", "..", "://", *OTHER_SCRIPTS, SEPARATOR]


def pieces(rng: random.Random) -> str:
    return "".join(rng.choice(PIECES) for _ in range(rng.randint(1, 40)))


def shaped(rng: random.Random) -> str:
    parts = []
    for _ in range(rng.randint(1, 4)):
        if rng.random() < 0.5:
            parts.append(rng.choice(NOISE))
        labels = ".".join(rng.choice(LABELS) for _ in range(rng.randint(0, 4)))
        dot = "." if labels and rng.random() < 0.8 else ""
        parts.append(rng.choice(LOCALS) + "@" + labels + dot + rng.choice(ENDINGS))
        if rng.random() < 0.5:
            parts.append(rng.choice(NOISE) + rng.choice(ENDINGS))
    return "".join(parts)


def long(rng: random.Random) -> str:
    """An address of about 254 characters, the longest kept: labels of 1-63 characters."""
    local = rng.choice(["", ":"]) + "b" * rng.randint(1, 66)
    labels: list[str] = []
    while len(local) + sum(len(label) + 1 for label in labels) < rng.randint(245, 256):
        labels.append("a" * rng.randint(1, 63))
    return local + "@" + ".".join(labels) + "." + rng.choice(ENDINGS[:9]) + rng.choice(["", " ", "-", "."])


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_email_spans_match_the_reference_on_generated_text(seed: int) -> None:
    rng = random.Random(seed)
    texts = [pieces(rng) for _ in range(30_000)] + [shaped(rng) for _ in range(30_000)]
    texts += [long(rng) for _ in range(2_000)]
    differ = [text for text in texts if email_spans(text) != emails(text)]
    assert not differ, f"{len(differ)} texts differ, first: {differ[0]!r}"
    assert sum(len(emails(text)) for text in texts[30_000:60_000]) > 3000  # the shapes hold addresses


def test_email_spans_match_the_reference_on_realistic_text() -> None:
    samples = labelled_set(seed=11, texts=1500, records=300)
    joined = SEPARATOR.join(sample.text for sample in samples)
    assert email_spans(joined) == emails(joined)
    records = json.dumps([sample.text for sample in samples], ensure_ascii=False)
    assert email_spans(records) == emails(records)
    assert len(emails(joined)) > 500  # the text holds plenty of addresses to find


def test_email_spans_read_every_string_width() -> None:
    """Python stores a string in 1, 2 or 4 bytes a character: the offsets are its indices in each."""
    for extra in ("", "é", "€", "\U0001f600"):
        text = extra + " mail a@b.cc.123 or x@xn--p1ai.xn--p1ai, not http://u:pw@host.com"
        assert email_spans(text) == emails(text)
        # the labels are given back to 'b.' when 'cc.' ends in no ending
        assert [text[start:end] for start, end in email_spans(text)] == ["a@b.cc", "x@xn--p1ai.xn--p1ai"]
