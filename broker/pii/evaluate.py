"""Score the detector on labelled text: precision and recall per entity type.

A sample is a text, the JSON key it sits under (or None) and its gold spans. A finding
counts as a true positive when a gold span has the same entity type and the same start
and end (strict); `overlap=True` also accepts a same-type finding that overlaps the gold
span. Run the project's labelled set with `python -m tests.pii.labelled`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from broker.pii.detector import Detector

Span = tuple[int, int, str]


@dataclass(frozen=True, slots=True)
class Sample:
    text: str
    spans: tuple[Span, ...] = ()
    key: str | None = None


@dataclass(slots=True)
class Score:
    true_positives: Counter[str] = field(default_factory=Counter)
    false_positives: Counter[str] = field(default_factory=Counter)
    false_negatives: Counter[str] = field(default_factory=Counter)
    misses: list[tuple[str, str, str]] = field(default_factory=list)
    """(kind, entity, text) for every FP and FN, to see what went wrong."""

    def precision(self, entity: str) -> float:
        found = self.true_positives[entity] + self.false_positives[entity]
        return self.true_positives[entity] / found if found else 1.0

    def recall(self, entity: str) -> float:
        gold = self.true_positives[entity] + self.false_negatives[entity]
        return self.true_positives[entity] / gold if gold else 1.0

    @property
    def entities(self) -> list[str]:
        return sorted({*self.true_positives, *self.false_positives, *self.false_negatives})

    def table(self) -> str:
        lines = [f"{'entity':<15} {'precision':>9} {'recall':>7} {'TP':>6} {'FP':>5} {'FN':>5}"]
        for entity in self.entities:
            tp, fp, fn = (
                self.true_positives[entity],
                self.false_positives[entity],
                self.false_negatives[entity],
            )
            rates = f"{self.precision(entity):>9.3f} {self.recall(entity):>7.3f}"
            lines.append(f"{entity:<15} {rates} {tp:>6} {fp:>5} {fn:>5}")
        return "\n".join(lines)


def evaluate(samples: Iterable[Sample], detector: Detector | None = None, *, overlap: bool = False) -> Score:
    detector = detector or Detector()
    samples = list(samples)
    score = Score()
    found_all = detector.find_many([s.text for s in samples], [s.key for s in samples])
    for sample, found in zip(samples, found_all, strict=True):
        _score_one(sample, [(start, end, entity) for start, end, entity, _ in found], score, overlap)
    return score


def _score_one(sample: Sample, found: Sequence[Span], score: Score, overlap: bool) -> None:
    unmatched = list(found)
    for gold in sample.spans:
        match = next((f for f in unmatched if _same(f, gold, overlap)), None)
        if match is None:
            score.false_negatives[gold[2]] += 1
            score.misses.append(("FN", gold[2], _show(sample, gold)))
        else:
            unmatched.remove(match)
            score.true_positives[gold[2]] += 1
    for extra in unmatched:
        score.false_positives[extra[2]] += 1
        score.misses.append(("FP", extra[2], _show(sample, extra)))


def _same(found: Span, gold: Span, overlap: bool) -> bool:
    if found[2] != gold[2]:
        return False
    if overlap:
        return found[0] < gold[1] and gold[0] < found[1]
    return found[0] == gold[0] and found[1] == gold[1]


def _show(sample: Sample, span: Span) -> str:
    start, end, _ = span
    return (
        f"{sample.text[max(0, start - 30) : start]}[[{sample.text[start:end]}]]{sample.text[end : end + 20]}"
    )
