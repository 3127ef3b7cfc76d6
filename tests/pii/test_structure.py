"""The JSON walk behind structure-aware masking (broker/pii/structure.py)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from collections import OrderedDict
from pathlib import Path
from typing import Any

from broker.pii.structure import Collected, FieldRules, collect
from policies.masking import MaskingPolicy

RULES_POLICY = MaskingPolicy.model_validate(
    {
        "fields": [
            {"match": "latitude", "entity": "LOCATION"},
            {"match": "$.items[*].name", "entity": "PERSON", "operator": "redact"},
        ]
    }
)
RULES = FieldRules(RULES_POLICY)
DOCUMENT = {
    "latitude": 48.85,
    "city": "Paris",
    "items": [{"name": "Ann", "phone": 4155550143, "ok": True, "n": None, "t": 1.5}],
    "a@b.example": "",
}


def summary(collected: Collected) -> dict[str, Any]:
    return {
        "value": collected.value,
        "texts": collected.texts,
        "keys": collected.keys,
        "key_slots": collected.key_slots,
        "wholes": [(slot, text, entity) for _, slot, text, (entity, _) in collected.wholes],
        "finite": collected.finite,
    }


class Text(str):
    pass


class Number(int):
    pass


def test_gathers_texts_and_wholes_and_leaves_the_input_alone() -> None:
    before = json.dumps(DOCUMENT)
    collected = collect(DOCUMENT, RULES)
    assert json.dumps(DOCUMENT) == before
    assert collected.value == DOCUMENT and collected.value is not DOCUMENT
    assert collected.value["items"][0] is not DOCUMENT["items"][0]
    assert summary(collected) | {"value": None} == {
        "value": None,
        "texts": ["Paris", "4155550143", "a@b.example"],
        "keys": ["city", "phone", None],
        "key_slots": {2},
        "wholes": [("latitude", "48.85", "LOCATION"), ("name", "Ann", "PERSON")],
        "finite": True,
    }


def test_python_values_are_walked_as_the_json_they_stand_for() -> None:
    """Tuples, subclasses of str, int and dict, and non-string keys, as json.dumps would write them."""
    odd = OrderedDict(
        [
            ("latitude", 48.85),
            ("city", Text("Paris")),
            ("items", ({"name": Text("Ann"), "phone": Number(4155550143), "ok": True, "n": None, "t": 1.5},)),
            ("a@b.example", ""),
        ]
    )
    assert summary(collect(odd, RULES)) == summary(collect(DOCUMENT, RULES))
    assert collect({1: "x"}, RULES).value == {"1": "x"}


def test_nan_and_infinity_are_noted() -> None:
    assert collect([1.0, {"x": math.inf}], RULES).finite is False
    assert collect([math.nan], RULES).finite is False
    assert collect(math.nan, RULES).finite is False
    assert collect([1.0, -0.0], RULES).finite is True


def test_a_walk_leaves_no_garbage_cycles() -> None:
    """Only the cyclic collector could free a reference cycle; a walk per tool call must not make one.

    In a fresh interpreter: in the test process, other tests' server threads make garbage of their
    own while the collector is off, which this count would take for the walk's."""
    script = (
        "import gc, sys\n"
        "from tests.pii.test_structure import DOCUMENT, RULES, collect\n"
        "gc.collect(); gc.disable()\n"
        "collect(DOCUMENT, RULES)\n"
        "sys.exit(gc.collect())\n"
    )
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=root, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, f"{done.returncode} objects in cycles (or an error): {done.stderr[-2000:]}"


def test_pairs_known_clean_are_not_gathered() -> None:
    """A (string, key) pair found clean before is left out; the same string under another key is not."""
    clean = {("Paris", "city"), ("a@b.example", None), ("Ann", "name")}
    rules = FieldRules(RULES_POLICY, clean)
    collected = collect({**DOCUMENT, "town": "Paris"}, rules)
    assert (collected.texts, collected.keys, collected.key_slots) == (
        ["4155550143", "Paris"],
        ["phone", "town"],
        set(),
    )
    assert [text for _, _, text, _ in collected.wholes] == ["48.85", "Ann"]  # rules apply all the same
    assert collect("Paris", rules).texts == ["Paris"]
    numbers = {"ref": 12345678, "refs": [12345678, 87654321], "phone": 12345678}
    known = collect(numbers, FieldRules(RULES_POLICY, {("12345678", "ref"), ("12345678", "refs")}))
    assert (known.texts, known.keys) == (["87654321", "12345678"], ["refs", "phone"])  # numbers too
