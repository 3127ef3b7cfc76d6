"""`Detector.find_many`'s native bookkeeping gives exactly what its Python references give.

The dedupe of (string, key) pairs, the strings' starts in the joined text, the resolved findings
handed back to their strings, the copies for repeated pairs and `CleanStrings`' pairs to
remember are each held to their reference on generated input (repeats, empty strings, NUL
inside values, keys and none, strings of every storage width) and on the labelled set's text,
and the whole `find_many` (and the memo it fills) to the one run on the references alone.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest

from broker.pii import clean, detector
from broker.pii.clean import CleanStrings
from broker.pii.context import SEPARATOR, Found
from broker.pii.detector import Detector
from tests.pii.labelled import labelled_set

_native = pytest.importorskip(
    "broker.pii._native", reason="broker.pii._native is not built (no Rust toolchain or crates): make native"
)

# Values that find something or nothing, in each storage width (ASCII, Latin-1, BMP, beyond).
PIECES = [
    "",
    "ok",
    "lead",
    "é",
    "€",
    "\U0001f600",
    "ann@example.com",
    "+1 415 555 0134",
    "4111 1111 1111 1111",
    "10.0.0.1",
    "DE89370400440532013000",
    "token=abcd1234efgh5678",
    " ",
    "\n",
    SEPARATOR,
    "123-45-6789",
]
KEYS = [None, "email", "phone", "password", "id", "note", "é", "\U0001f600"]


def strings(seed: int, count: int) -> tuple[list[str], list[str | None]]:
    rng = random.Random(seed)
    texts = ["".join(rng.choice(PIECES) for _ in range(rng.randint(0, 4))) for _ in range(count)]
    return texts, [rng.choice(KEYS) for _ in texts]


def batches() -> Iterator[tuple[list[str], list[str | None]]]:
    for seed in range(300):
        texts, keys = strings(seed, random.Random(seed).randint(1, 30))
        yield texts, []
        # (With keys, a NUL inside a value recurses without end in `find`, native or not.)
        yield [text.replace(SEPARATOR, "") for text in texts], keys


def same(native: object, python: object) -> bool:
    """Equal, and with the same types all the way down (repr tells a list from a tuple)."""
    return native == python and repr(native) == repr(python)


def use_references(monkeypatch: pytest.MonkeyPatch) -> None:
    """The Python references in place of the native functions, as where the module is not built."""
    monkeypatch.setattr(detector, "distinct_pairs", detector.distinct)
    monkeypatch.setattr(detector, "spread_found", detector.spread)
    monkeypatch.setattr(detector, "string_starts", detector.starts_of)
    monkeypatch.setattr(clean, "fresh_pairs", clean.clean_pairs)
    monkeypatch.setattr(detector, "resolve", detector.resolved)
    monkeypatch.setattr(detector, "hand_out", detector.handed_out)
    monkeypatch.setattr(clean, "hand_out", detector.handed_out)
    monkeypatch.setattr(clean, "unseen_pairs", clean.unseen)
    monkeypatch.setattr(clean, "remember_slots", clean.remembered)


def test_the_native_functions_are_in_use() -> None:
    assert detector.distinct_pairs is _native.distinct_pairs
    assert detector.spread_found is _native.spread_found
    assert detector.string_starts is _native.string_starts
    assert clean.fresh_pairs is _native.clean_pairs


def test_each_function_matches_its_reference_on_generated_input() -> None:
    for texts, keys in batches():
        assert same(_native.distinct_pairs(texts, keys), detector.distinct(texts, keys))
        assert same(_native.distinct_pairs(texts, ()), detector.distinct(texts, ()))
        raw, raw_keys = strings(len(texts), len(texts))  # (NUL inside values, with keys)
        assert same(_native.distinct_pairs(raw, raw_keys), detector.distinct(raw, raw_keys))
        starts = detector.starts_of(texts)
        assert same(_native.string_starts(texts), starts)
        rng = random.Random(len(texts))
        found: list[Found] = []
        for _ in range(rng.randint(0, 20)):
            start = rng.randint(0, starts[-1] + len(texts[-1]))
            found.append((start, start + rng.randint(0, 9), rng.choice(["EMAIL_ADDRESS", "SECRET"]), 0.5))
        found.sort()
        assert same(_native.spread_found(found, starts), detector.spread(found, starts))
        spread = detector.spread(found, starts)
        which = [rng.randrange(len(spread)) for _ in range(rng.randint(0, 40))]
        assert same(_native.hand_out([list(f) for f in spread], which), detector.handed_out(spread, which))
        pairs = list(zip(texts, keys or [None] * len(texts), strict=True))
        for most in (0, 3, 100):
            assert same(_native.clean_pairs(pairs, spread, most), clean.clean_pairs(pairs, spread, most))


def test_the_dedupe_matches_its_reference_on_big_batches() -> None:
    """Batches whose probing wraps and collides in the dedupe's table, one past the size of
    table it keeps between calls, and small ones after (the kept table is cleared)."""
    rng = random.Random(7)
    words = [str(n) for n in range(3000)] + ["é", "€", "\U0001f600", ""]
    for count in (17, 5_000, 40_000, 600_000, 3, 1):
        texts = [rng.choice(words) + rng.choice(("", "x", "€")) for _ in range(count)]
        keys = [rng.choice(KEYS) for _ in texts]
        assert same(_native.distinct_pairs(texts, keys), detector.distinct(texts, keys))
    texts = [str(n) for n in range(600_000)]
    assert same(_native.distinct_pairs(texts, ()), detector.distinct(texts, ()))


def test_repeats_get_new_lists() -> None:
    spread: list[list[Found]] = [[(0, 1, "SECRET", 0.85)], []]
    handed = _native.hand_out(spread, [0, 0, 1, 1])
    assert handed[0] is spread[0] and handed[1] is not spread[0] and handed[1] == spread[0]
    assert handed[2] is spread[1] and handed[3] is not spread[1]


def test_other_shapes_go_to_the_references() -> None:
    assert same(_native.distinct_pairs(("a", "a"), ("k", "k")), detector.distinct(("a", "a"), ("k", "k")))
    assert same(_native.string_starts(("ab", "")), [0, 3])
    found: list[Found] = [(0, 1, "SECRET", 0.85)]
    assert same(_native.spread_found(found, (0,)), detector.spread(found, [0]))
    with pytest.raises(ValueError):
        _native.distinct_pairs(["a", "b"], ["k"])


def finds(texts: list[str], keys: list[str | None]) -> tuple[list[list[Found]], set[tuple[str, str | None]]]:
    """`find_many` with the keys given (or none), and through a memo twice (the second time
    through its clean pairs), with the memo's contents."""
    memo = CleanStrings(Detector())
    first = memo.find_many(texts, keys or [None] * len(texts))
    again = memo.find_many(texts, keys or [None] * len(texts))
    return Detector().find_many(texts, keys) + first + again, set(memo.clean)


def test_find_many_matches_the_references_on_generated_input(monkeypatch: pytest.MonkeyPatch) -> None:
    native = [finds(texts, keys) for texts, keys in batches()]
    use_references(monkeypatch)
    python = [finds(texts, keys) for texts, keys in batches()]
    assert same(native, python)
    assert sum(len(spans) for found, _ in python for spans in found) > 1000  # (findings were made)
    assert sum(len(memo) for _, memo in python) > 1000


def test_find_many_matches_the_references_on_the_labelled_set(monkeypatch: pytest.MonkeyPatch) -> None:
    samples = labelled_set(7)
    texts, keys = [s.text for s in samples], [s.key for s in samples]
    doubled = texts + texts[::3]  # (repeats, scanned once)
    native = (finds(texts, keys), finds(doubled, []), finds(doubled, keys + keys[::3]))
    use_references(monkeypatch)
    python = (finds(texts, keys), finds(doubled, []), finds(doubled, keys + keys[::3]))
    assert same(native, python)
