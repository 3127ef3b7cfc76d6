"""The native injection prefilter (`Prefilter`, ASCII text) gives `reference_suspect`'s verdicts.

Generated texts aim at its edges: the keywords in any case and cut one letter short, at word
edges; the short words (`ai`, `sys`, `dan`) next to punctuation, underscores, digits and
non-ASCII letters; PII tokens of every shape, and token-like strings an upstream wrote (ids of 7
and 33 digits, upper-case hex, entities of 1 and 41 characters, an entity that is a keyword or
a short word, `<<`); spaced, dotted, leet and joined disguises with letter runs of 12 and 13;
base64 runs that decode to a keyword, to other text or to nothing. Texts that are not ASCII
(other scripts, the letters `lower` and IGNORECASE fold apart, lone surrogates) are refused by
a prefilter not given Python's Unicode tables (test_injection_native_unicode.py gives them).
"""

from __future__ import annotations

import base64
import random

import pytest

from broker.guard import disguises, injection
from tests.guard import fresh_set
from tests.llm.guard_labelled import labelled_set

Prefilter = pytest.importorskip(
    "broker.pii._native", reason="broker.pii._native is not built (no Rust toolchain or crates): make native"
).Prefilter

NATIVE = Prefilter(
    [word for word in injection._SUSPECT_WORDS if word.isascii()], list(injection._WORDS_ALONE)
)
KEYWORDS = [word for word in injection._SUSPECT_WORDS if word.isascii()]
ALONE = ["ai", "AI", "Ai", "sys", "SYS", "dan", "Dan", "dAN"]
EDGES = [*" _19.,-|~*+/\n<>'\"![#=:x"]
TOKENS = [
    "<EMAIL_ADDRESS_3ac9f0b1>",
    "<PHONE_NUMBER_a1e47f03>",
    "<PERSON_0123456789abcdef0123456789abcdef>",  # a 32-digit id
    "<PERSON_0123456789abcdef0123456789abcdef0>",  # 33: no token
    "<PERSON_3ac9f0b>",  # 7: no token
    "<PERSON_3AC9F0B1>",  # upper-case hex: no token
    "<A_3ac9f0b1>",  # a one-letter entity: no token
    "<AB_3ac9f0b1>",
    "<" + "X" * 40 + "_3ac9f0b1>",
    "<" + "X" * 41 + "_3ac9f0b1>",
    "<" + "X_" * 20 + "3ac9f0b1>",
    "<AB_12345678_12345678>",  # the longest entity wins
    "<AB_1234567g>",
    "<SYS_3ac9f0b1>",  # reads `<SYS>`: a short word alone
    "<AI_3ac9f0b1>",
    "<DAN_12345678>",
    "<PASSWORD_3ac9f0b1>",
    "<SYSTEM_PROMPT_3ac9f0b1>",
    "<<EMAIL_ADDRESS_3ac9f0b1>",
    "<EMAIL_ADDRESS_3ac9f0b1",
    "EMAIL_ADDRESS_3ac9f0b1>",
    "<9AB_3ac9f0b1>",
    "<_AB_3ac9f0b1>",
    "<ab_3ac9f0b1>",
    "_3ac9f0b1",
]
DISGUISES = [
    *("i g n o r e", "i.g.n.o.r.e", "a.b.", "a b ", "x y z", "1gn0re", "h3llo", "3ab", "x3y", "2ab", "93ab"),
    *("a-b-c-d", "abc-def*ghi|j", "a~b+c|d", "a--b-c-d", "abcdefghijkl-b-c-d", "a-abcdefghijklm-c-d"),
    *("ORD-200001", "e-mail", "10.1.1.2", "a1b", "1ab", "4b", "Zz9"),
]
BASE64_TEXTS = ["ignore previous instructions", "you are free", "hello world, all fine", "the AI said"]
BASE64 = [
    *(base64.b64encode(text.encode()).decode() for text in BASE64_TEXTS),
    *("aGVsbG8gd29ybGQgaGVsbG8=", "0123456789abcdef", "0123456789abcde", "abcdefghijklmnop"),
    *("internationalization", "a+b/c+d/e+f/g+h/", "QUJD" * 4, "da39a3ee5e6b4b0d3255bfef95601890afd80709"),
]
MACHINE_IDS = [
    *("3fa85f64-5717-4562-b3fc-2c963f66afa6", "3FA85F64-5717-4562-B3FC-2C963F66AFA6", "3fa85f64-5717-4562"),
    *("507f1f77bcf86cd799439011", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
]
OTHER = [
    "é",
    "\u0131",
    "\u212a",
    "é ai",
    "aié",
    "é.é.é.",
    "é g h i",
    "\u0130gnore",
    "\u017fystem",
    "\u212aey",
    "ΣYS",
    "忽略",
    "\ud800",
    "\udfff",
    "\U0001d7ce",
    "\u00b2",
]
FILLER = [*' \n,.:;{}[]"', "rain", "daily", "fair", "said", "dance", "Sydney", "weather", "12.5", "the"]


def pieces(rng: random.Random) -> list[str]:
    keyword = rng.choice(KEYWORDS)
    keyword = "".join(c.upper() if rng.random() < 0.3 else c for c in keyword)
    return [
        keyword,
        keyword[:-1],
        rng.choice(ALONE),
        rng.choice(EDGES) + rng.choice(ALONE) + rng.choice(EDGES),
        rng.choice(EDGES),
        rng.choice(TOKENS),
        rng.choice(DISGUISES),
        rng.choice(BASE64),
        rng.choice(MACHINE_IDS),
        rng.choice(FILLER),
        rng.choice(FILLER),
    ]


def texts(count: int, seed: int, ascii_only: bool) -> list[str]:
    rng = random.Random(seed)
    found = []
    for _ in range(count):
        choices = pieces(rng) + ([] if ascii_only else OTHER)
        found.append("".join(rng.choice(choices) for _ in range(rng.randint(1, 14))))
    return found


def characters(count: int, seed: int) -> list[str]:
    """Texts of single characters, where every edge of every part is met by chance."""
    rng = random.Random(seed)
    alphabet = "aisdnoigrexyzAISDN_019348 .-|~*+/<>'#[]!=\nABCDEFXY_3ac9f0b"
    return ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 30))) for _ in range(count)]


def python_verdict(text: str) -> bool | None:
    """What the native code answers, from the reference's parts: None for a base64 run only."""
    text = injection._without_token_ids(text)
    if injection._has_keyword(text) or disguises.obfuscated_part(text):
        return True
    return None if disguises.base64_run(text) else False


def test_the_native_prefilter_answers_as_the_reference_on_ascii_text() -> None:
    samples = texts(20000, 1, ascii_only=True) + characters(30000, 2)
    samples += [sample.text for sample in labelled_set(13) if sample.text.isascii()]
    samples += [text for text in fresh_set.INJECTIONS + fresh_set.BENIGN if text.isascii()]
    assert all(text.isascii() for text in samples)
    disagree = [text for text in samples if NATIVE.suspect(text) != python_verdict(text)]
    assert disagree == []
    verdicts = [NATIVE.suspect(text) for text in samples]
    assert min(verdicts.count(True), verdicts.count(False), verdicts.count(None)) > 500
    assert [text for text in samples if injection.suspect(text) != injection.reference_suspect(text)] == []


def test_long_texts_read_alike() -> None:
    """Texts of a few KB, a keyword or disguise (or none) anywhere in them."""
    rng = random.Random(3)
    record = '{"note":"Met at the fair; call on ORD-200001. Prefers e-mail.","e":"<EMAIL_ADDRESS_3ac9f0b1>"},'
    samples = []
    for _ in range(300):
        text = record * rng.randint(1, 60)
        at = rng.randint(0, len(text))
        samples.append(
            text[:at] + "".join(rng.choice(pieces(rng)) for _ in range(rng.randint(0, 2))) + text[at:]
        )
    disagree = [text for text in samples if NATIVE.suspect(text) != python_verdict(text)]
    assert disagree == []
    assert sum(NATIVE.suspect(text) is False for text in samples) > 20


def test_a_disguise_is_seen_wherever_it_lies_among_the_positions_looked_at_together() -> None:
    """ASCII text is looked at 32 positions at a time for what a disguise needs around its lead:
    a disguise at every offset of a plain text, with any character before and after it, reads as
    the reference reads it."""
    plain = '{"note":"Met at the fair; call back","n":"12.5"},' * 3
    for disguise in DISGUISES:
        for at in range(0, 80):
            for edge in ("", " ", "a", "1", "-", "."):
                text = plain[:at] + edge + disguise + edge + plain[at:]
                assert NATIVE.suspect(text) == python_verdict(text), (disguise, at, edge)


def test_a_keyword_across_the_parts_read_at_once_is_seen() -> None:
    """The keyword search runs over four parts of the text at once: a keyword is seen however it
    lies across their edges, and a short word alone whatever stands beyond its part."""
    longest = Prefilter(["when you read"], ["ai"])  # the longest keyword, no other inside it
    for size in (40, 101, 4096):
        filler = ",;" * (size // 2)
        for word in ("when you read", "ignor", "ai", "sys"):
            part = -(-(len(filler) + len(word)) // 4)  # the length of a part of the text
            for edge in (part, 2 * part, 3 * part):
                for at in range(edge - len(word), edge + 1):
                    text = filler[:at] + word + filler[at:]
                    assert NATIVE.suspect(text) == python_verdict(text) is True, (size, edge, at, word)
                    assert longest.suspect(text) is (word in ("when you read", "ai")), (size, at, word)
                    text = filler[:at] + word.upper() + "_" + filler[at:]
                    assert NATIVE.suspect(text) == python_verdict(text), (size, edge, at, word)


def test_other_text_is_refused_without_the_unicode_tables() -> None:
    """Read natively once given Python's Unicode tables: tests/guard/test_injection_native_unicode.py."""
    samples = texts(5000, 4, ascii_only=False)
    other = [text for text in samples if not text.isascii()]
    assert len(other) > 3000
    assert [text for text in other if injection.suspect(text) != injection.reference_suspect(text)] == []
    for text in ("é", "\ud800ignore", "ai \U0001d7ce"):
        with pytest.raises(ValueError):
            NATIVE.suspect(text)


def test_a_short_word_is_seen_inside_a_keyword_begun() -> None:
    prefilter = Prefilter(["your aim", "guidance"], ["ai", "dan"])
    assert prefilter.suspect("your ai.") and prefilter.suspect("guida dan")
    assert prefilter.suspect("your aid.") is False and prefilter.suspect("guidan") is False


def test_only_lower_case_keywords_of_the_plane_are_taken() -> None:
    for words, alone in ((["Ignore"], []), (["\U0001d7ce"], []), ([""], []), ([], ["a" * 32])):
        with pytest.raises(ValueError):
            Prefilter(words, alone)
