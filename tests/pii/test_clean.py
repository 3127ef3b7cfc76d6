"""The memo of strings found clean (broker/pii/clean.py)."""

from __future__ import annotations

from broker.pii.clean import BIG_BATCH, BIG_KEY, CleanStrings
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


def test_a_column_of_one_off_values_is_not_remembered_however_small_the_document() -> None:
    """A list of records under `BIG_BATCH` pairs still holds ids and amounts that never come again:
    past `BIG_KEY` of them under one key, only the values the document repeats are remembered."""
    strings = CleanStrings(Detector())
    rows = BIG_KEY + 1
    ids = [f"id-{n}" for n in range(rows)]
    stages = ["lead", "customer"] * (rows // 2) + ["lead"] * (rows % 2)
    texts = [*ids, *stages, "ok", "ok-2"]
    keys = ["id"] * rows + ["stage"] * rows + ["status", "status"]
    assert len(texts) < BIG_BATCH
    assert strings.find_many(texts, keys) == [[]] * len(texts)
    assert set(strings.clean) == {
        ("lead", "stage"),
        ("customer", "stage"),
        ("ok", "status"),
        ("ok-2", "status"),
    }
    fewer = CleanStrings(Detector())
    fewer.find_many(ids[:BIG_KEY], ["id"] * BIG_KEY)
    assert len(fewer.clean) == BIG_KEY  # (a short column is remembered whole, as before)
