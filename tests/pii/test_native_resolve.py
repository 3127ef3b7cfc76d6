"""The native overlap resolution (`resolve_found`) gives exactly what its Python reference
(`resolved`) gives: the same tuple objects, in the same order.

Generated findings aim at the ties each sort breaks: equal starts, equal spans (kept as found),
equal lengths with equal or other scores, entities of every priority and unknown ones, zero-length
and nested findings, long chains of overlaps; then the finders' own findings on the labelled set,
and input of other shapes (which goes to the reference).
"""

from __future__ import annotations

import random

import pytest

from broker.pii import detector
from broker.pii.context import SEPARATOR, Found, Scan
from broker.pii.detector import PATTERN_ENTITIES, Detector, resolved
from tests.pii.labelled import labelled_set

resolve_found = pytest.importorskip(
    "broker.pii._native", reason="broker.pii._native is not built (no Rust toolchain or crates): make native"
).resolve_found

ENTITIES = [*PATTERN_ENTITIES, "PERSON", "secret"]


def same(native: list[Found], python: list[Found]) -> bool:
    """The same tuples (the objects themselves) in the same order."""
    return len(native) == len(python) and all(a is b for a, b in zip(native, python, strict=True))


def findings(rng: random.Random) -> list[Found]:
    found: list[Found] = []
    width = rng.choice([5, 20, 60, 400])
    for _ in range(rng.randint(0, rng.choice([3, 15, 60]))):
        start = rng.randint(0, width)
        if found and rng.random() < 0.2:  # the same span again, or the same start
            other = rng.choice(found)
            start, end = other[0], other[1] if rng.random() < 0.5 else other[0] + rng.randint(0, 9)
        else:
            end = start + rng.choice([0, 1, 2, 3, 5, 8, 13, rng.randint(0, 30)])
        found.append(
            (start, end, rng.choice(ENTITIES), rng.choice([0.5, 0.8, 0.85, 0.9, 0.95, 1.0, 0.0, -0.0]))
        )
    return found


def test_resolve_is_native() -> None:
    assert detector.resolve is resolve_found


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_resolve_matches_the_reference_on_generated_findings(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(20_000):
        found = findings(rng)
        assert same(resolve_found(list(found)), resolved(list(found))), found


def test_resolve_matches_the_reference_on_the_finders_findings() -> None:
    samples = labelled_set(seed=11, texts=1500, records=300)
    found = Detector()._run(Scan(SEPARATOR.join(sample.text for sample in samples)))
    for piece in (found, found[::-1], found + found[::7], sorted(found)):
        assert same(resolve_found(list(piece)), resolved(list(piece)))
    assert len(resolved(list(found))) > 2_000


def test_small_and_other_shapes_go_as_the_reference_has_them() -> None:
    one: list[Found] = [(0, 1, "SECRET", 0.85)]
    assert resolve_found(one) is one  # (the reference returns a list of fewer than two as it is)
    empty: list[Found] = []
    assert resolve_found(empty) is empty
    odd = [(0, 4, "SECRET", 1), (2, 9, "US_SSN", 0.5), (2**70, 2**70 + 1, "SECRET", 0.5)]
    assert resolve_found(list(odd)) == resolved(list(odd))
    nan = [(0, 4, "SECRET", float("nan")), (2, 6, "US_SSN", 0.5)]
    assert resolve_found(list(nan)) == resolved(list(nan))
    assert resolve_found(tuple(odd)) == resolved(tuple(odd))  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        resolve_found([(0, 4, "SECRET", 0.5), (1, 2, "SECRET", "high")])
