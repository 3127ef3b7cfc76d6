"""The memo's native work (`unseen_pairs`, `remember_slots`) gives exactly what its Python references
(`unseen`, `remembered`) give: the same indexes, and the same memo (contents and order).

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

_native = pytest.importorskip(
    "broker.pii._native", reason="broker.pii._native is not built (no Rust toolchain or crates): make native"
)

TEXTS = ["", "ok", "é", "€", "\U0001f600", "lead", "x" * 100, "y" * 101, "ann@example.com", "a\x00b"]
KEYS = [None, "status", "email", "é", "\U0001f600", ""]


def batch(rng: random.Random) -> tuple[list[str], list[str | None]]:
    size = rng.randint(0, 40)
    texts = [rng.choice(TEXTS) + rng.choice(["", "", str(rng.randint(0, 5))]) for _ in range(size)]
    return texts, [rng.choice(KEYS) for _ in texts]


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
        most_entries = rng.choice([3, 10, 1000])
        native, python = set(start), set(start)
        _native.remember_slots(native, which, firsts, first_keys, found, most, big_batch, most_entries)
        memo.remembered(python, which, firsts, first_keys, found, most, big_batch, most_entries)
        assert same(native, python), (texts, keys, found)


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
    _native.remember_slots(native, [0, 0], ("c",), [None], [[]], 100, 0, 10)
    memo.remembered(python, [0, 0], ["c"], [None], [[]], 100, 0, 10)
    assert native == python == {("a", None), ("c", None)}
    with pytest.raises(IndexError):
        _native.remember_slots(set(), [1], ["c"], [None], [[]], 100, 0, 10)


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
