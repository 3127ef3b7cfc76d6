"""The memo of strings found clean (broker/pii/clean.py)."""

from __future__ import annotations

from broker.pii.clean import BIG_BATCH, CleanStrings
from broker.pii.detector import Detector


def test_clean_pairs_are_remembered_and_a_big_document_adds_only_what_recurs_in_it() -> None:
    """A small result's clean strings are all remembered; a big one's only where it repeats them
    (its ids and amounts occur once): they would crowd out the strings that recur call after call."""
    strings = CleanStrings(Detector())
    assert strings.find_many(["ok", "km/h", "ann@example.com"], ["status", "unit", "email"]) == [
        [],
        [],
        [(0, 15, "EMAIL_ADDRESS", 1.0)],
    ]
    assert set(strings.clean) == {("ok", "status"), ("km/h", "unit")}
    once = [f"row {n}" for n in range(BIG_BATCH + 1)]
    found = strings.find_many([*once, "lead", "lead"], ["note"] * len(once) + ["stage", "stage"])
    assert found == [[]] * (len(once) + 2)
    assert set(strings.clean) == {("ok", "status"), ("km/h", "unit"), ("lead", "stage")}
