"""Precision and recall per entity type on the generated labelled set (see tests/pii/labelled.py)."""

from __future__ import annotations

import pytest

from broker.pii.detector import PATTERN_ENTITIES
from broker.pii.evaluate import Sample, evaluate
from tests.pii.labelled import Values, labelled_set

THRESHOLD = 0.95


@pytest.mark.parametrize("seed", [7, 2026])
def test_every_pattern_entity_reaches_the_threshold(seed: int, capsys: pytest.CaptureFixture[str]) -> None:
    score = evaluate(labelled_set(seed))
    with capsys.disabled():
        print(f"\nPII detection, labelled set seed {seed} (strict span match):\n{score.table()}")
    assert set(score.entities) == set(PATTERN_ENTITIES)
    for entity in PATTERN_ENTITIES:
        assert score.true_positives[entity] > 300, entity
        assert score.precision(entity) >= THRESHOLD, (entity, score.misses)
        assert score.recall(entity) >= THRESHOLD, (entity, score.misses)


def test_hard_negatives_alone_find_nothing() -> None:
    values = Values(5)
    negatives = [Sample(values.negative()) for _ in range(3000)]
    score = evaluate(negatives)
    assert sum(score.false_positives.values()) <= 3, score.misses


def test_overlap_matching_is_at_least_as_good_as_strict() -> None:
    samples = labelled_set(3, texts=400, records=50)
    strict, loose = evaluate(samples), evaluate(samples, overlap=True)
    for entity in PATTERN_ENTITIES:
        assert loose.recall(entity) >= strict.recall(entity)
