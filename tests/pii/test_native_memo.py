"""The memo's native work (`unseen_pairs`, `remember_slots`) gives exactly what its Python references
(`unseen`, `remembered`) give: the same indexes, and the same memo (contents and order); the native
memo (`CleanMemo`) holds what a set of the same pairs holds, looked up on characters.

Generated batches aim at each branch: memos holding none, some or all of a batch's pairs; pairs
that repeat or not; keys and None; strings of 0-101 characters and of every storage width;
findings or none; more fresh pairs than the big-batch bound (counting repeats) or not; memos
that overflow and are emptied. Other shapes go to the references.
"""

from __future__ import annotations

import random

import pytest

from broker.pii import clean as memo
from broker.pii import detector
from broker.pii.context import Found
from broker.pii.detector import distinct
from broker.pii.structure import Collected, FieldRules
from policies.masking import MaskingPolicy

_native = pytest.importorskip(
    "broker.pii._native", reason="broker.pii._native is not built (no Rust toolchain or crates): make native"
)

TEXTS = ["", "ok", "é", "€", "\U0001f600", "lead", "x" * 100, "y" * 101, "ann@example.com", "a\x00b"]
KEYS = [None, "status", "email", "é", "\U0001f600", ""]


def batch(rng: random.Random) -> tuple[list[str], list[str | None]]:
    size = rng.randint(0, 40)
    texts = [rng.choice(TEXTS) + rng.choice(["", "", str(rng.randint(0, 5))]) for _ in range(size)]
    keys = [rng.choice(KEYS) for _ in texts]
    # (equal keys as other objects too: the native work groups keys by their characters)
    return texts, [key if key is None or rng.random() < 0.5 else "".join([*key]) for key in keys]


def same(native: object, python: object) -> bool:
    return native == python and repr(native) == repr(python)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_unseen_matches_the_reference(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(3000):
        texts, keys = batch(rng)
        held = {pair for pair in zip(texts, keys, strict=True) if rng.random() < rng.choice([0, 0.3, 1])}
        held |= {(rng.choice(TEXTS), rng.choice(KEYS)) for _ in range(rng.randint(0, 3))}
        assert same(_native.unseen_pairs(held, texts, keys), memo.unseen(held, texts, keys))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_remember_matches_the_reference(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(3000):
        texts, keys = batch(rng)
        which, firsts, first_keys = distinct(texts, keys)
        found: list[list[Found]] = [[(0, 1, "SECRET", 0.85)] if rng.random() < 0.3 else [] for _ in firsts]
        start = {(rng.choice(TEXTS), rng.choice(KEYS)) for _ in range(rng.randint(0, 8))}
        most = rng.choice([0, 3, 100])
        big_batch = rng.choice([0, 2, 5, 100])
        big_key = rng.choice([0, 1, 3, 100])
        most_entries = rng.choice([3, 10, 1000])
        native, python = set(start), set(start)
        args = (which, firsts, first_keys, found, most, big_batch, big_key, most_entries)
        _native.remember_slots(native, *args)
        memo.remembered(python, *args)
        assert same(native, python), (texts, keys, found)


@pytest.mark.parametrize("seed", [1, 2])
def test_the_native_memo_holds_what_a_set_holds(seed: int) -> None:
    """The memo's work on a `CleanMemo` and on a set of pairs, batch after batch: the same indexes
    not held, and the same pairs held (emptied at the same moments)."""
    rng = random.Random(seed)
    native, python = _native.CleanMemo(), set[tuple[str, str | None]]()
    emptied = 0
    for _ in range(3000):
        texts, keys = batch(rng)
        assert _native.unseen_pairs(native, texts, keys) == memo.unseen(python, texts, keys)
        which, firsts, first_keys = distinct(texts, keys)
        found: list[list[Found]] = [[(0, 1, "SECRET", 0.85)] if rng.random() < 0.3 else [] for _ in firsts]
        before = len(python)
        args = (
            which,
            firsts,
            first_keys,
            found,
            rng.choice([3, 100]),
            rng.choice([2, 100]),
            rng.choice([1, 100]),
            60,
        )
        _native.remember_slots(native, *args)
        memo.remembered(python, *args)
        emptied += len(python) < before
        assert len(native) == len(python)
        assert set(native) == python
        assert all((text, key) in native for text, key in python)
    assert emptied > 10  # (it overflowed and was emptied, and filled again)


def test_the_native_memo_compares_characters() -> None:
    """A pair is held whatever the storage of the strings looked up: subclasses of str, and strings
    in a JSON text of wider characters, escaped or not, are found; other items are not held."""

    class Name(str):
        pass

    clean = _native.CleanMemo()
    clean.update([("lead", "stage"), ("é", None), ("€", ""), ("\U0001f600", "é")])
    assert len(clean) == 4 and list(clean) == [("lead", "stage"), ("é", None), ("€", ""), ("\U0001f600", "é")]
    assert (Name("lead"), Name("stage")) in clean and ("é", None) in clean and ("€", "") in clean
    assert ("é", "") not in clean and ("€", None) not in clean and ("lead", "Stage") not in clean
    assert ("lead",) not in clean and ("lead", 1) not in clean and 1 not in clean and [] not in clean
    assert clean.isdisjoint([("x", None), 3]) and not clean.isdisjoint([("é", None)])
    with pytest.raises(TypeError, match="pairs"):
        clean.update([("x", 1)])
    with pytest.raises(TypeError):
        clean.update(5)  # type: ignore[arg-type]
    for document in (
        '{"stage": "lead", "x": "\U0001f600"}',  # text stored 4 bytes a character
        '{"stage": "lea\\u0064", "x": "\u20ac"}',  # escaped, text stored 2 bytes a character
        '{"st\\u0061ge": "lead"}',  # an escaped key
    ):
        collected = Collected(FieldRules(MaskingPolicy(), clean))
        assert _native.scan_json(collected, document, {}) is not None
        assert "lead" not in collected.texts, document
    collected = Collected(FieldRules(MaskingPolicy(), clean))
    _native.scan_json(collected, '{"stage": "leads", "x": ["lead"]}', {})
    assert collected.texts == ["leads", "lead"]  # (another string; the same under another key)
    clean.clear()
    assert len(clean) == 0 and list(clean) == [] and ("lead", "stage") not in clean


def test_the_memo_is_native() -> None:
    assert memo.unseen_pairs is _native.unseen_pairs
    assert memo.remember_slots is _native.remember_slots


def test_other_shapes_go_to_the_references() -> None:
    held = {("a", None)}
    assert _native.unseen_pairs(frozenset(held), ("a", "b"), (None, None)) == [1]
    assert _native.unseen_pairs(held, ["a", "b"], [None, None]) == [1]
    assert _native.unseen_pairs(held, ["b"], [None]) is None
    with pytest.raises(ValueError):
        _native.unseen_pairs(held, ["a", "b"], [None])
    native, python = set(held), set(held)
    _native.remember_slots(native, [0, 0], ("c",), [None], [[]], 100, 0, 10, 10)
    memo.remembered(python, [0, 0], ["c"], [None], [[]], 100, 0, 10, 10)
    assert native == python == {("a", None), ("c", None)}
    with pytest.raises(IndexError):
        _native.remember_slots(set(), [1], ["c"], [None], [[]], 100, 0, 10, 10)


def test_hand_out_matches_the_reference() -> None:
    """The same lists, the slot's own the first time (the same objects), new ones after."""
    rng = random.Random(9)
    for _ in range(3000):
        found: list[list[Found]] = [
            [(k, k + 1, "SECRET", 0.85)] * rng.randint(0, 2) for k in range(rng.randint(1, 20))
        ]
        which = [rng.randrange(len(found)) for _ in range(rng.randint(0, 40))]
        native, python = _native.hand_out(found, which), detector.handed_out(found, which)
        assert same(native, python)
        assert [any(a is b for b in found) for a in native] == [any(a is b for b in found) for a in python]
        assert len({id(a) for a in native}) == len(native)  # no two share a list
    assert _native.hand_out([[]], [-1]) == detector.handed_out([[]], [-1]) == [[]]
    with pytest.raises(IndexError):
        _native.hand_out([[]], [1])


def test_hand_out_is_native() -> None:
    assert detector.hand_out is _native.hand_out
    assert memo.hand_out is _native.hand_out
