"""The native JSON walk (`_native.walk`) builds exactly what `Collected.walk` builds.

The two are held to the same `Collected`: the texts, keys, key slots, values masked whole and
`finite`, the copy (by value, and holding the input's own leaf objects), every slot's container
being the copy's own container at that place, and the `FieldRules` memos filled alike. Documents
are generated to hit the walk's edges (keys with digits, '@' or ':', integers around 1,000,000
and past 64 bits, NaN and infinities, bools, None, empty strings, tokens, rules' keys at every
depth), under policies without field rules, with key-name rules and with `$`-path rules, with
and without pairs known clean; then Python values no parser makes (tuples, subclasses,
non-string keys), and CRM records like the benchmarks'.
"""

from __future__ import annotations

import json
import math
import random
from collections import OrderedDict
from collections.abc import Set as AbstractSet
from typing import Any

import pytest

from broker.pii import structure
from broker.pii.structure import Collected, FieldRules, collect
from policies.masking import MaskingPolicy
from tests.pii.labelled import labelled_set

_native = pytest.importorskip(
    "broker.pii._native", reason="broker.pii._native is not built (no Rust toolchain or crates): make native"
)

KEY_RULES = [
    {"match": "latitude", "entity": "LOCATION"},
    {"match": "Phone Number", "entity": "PHONE_NUMBER", "operator": "redact"},
    {"match": "name", "entity": "PERSON", "operator": {"operator": "mask", "keep_last": 2}},
    {"match": "items", "entity": "PII", "operator": "hash"},
    {"match": "a@b.example", "entity": "PII"},
]
PATH_RULES = [
    {"match": "$.items[*].name", "entity": "PERSON", "operator": "redact"},
    {"match": "$..email", "entity": "EMAIL_ADDRESS", "operator": "token"},
    {"match": "$.records[-1]", "entity": "PII"},
    {"match": "$.records[0].id", "entity": "PII", "operator": "hash"},
    {"match": "$.*.phone_number", "entity": "PHONE_NUMBER", "operator": {"operator": "mask", "keep_last": 3}},
    {"match": "$['a@b.example']", "entity": "PII", "operator": "keep"},
    {"match": "$..items[1]", "entity": "LOCATION"},
    {"match": "$[2]", "entity": "PII", "operator": "replace"},
    {"match": "$..*.x:y", "entity": "PII", "operator": "redact"},
]
TIES = [  # as strong as a path rule above: the rule met first wins
    {"match": "email", "entity": "CONTACT", "operator": "token"},
    {"match": "records", "entity": "RECORD"},
]
POLICIES = {
    "no rules": {},
    "key names": {"fields": KEY_RULES},
    "paths": {"fields": PATH_RULES},
    "both": {"fields": KEY_RULES + PATH_RULES + TIES},
    "everything": {"fields": [*KEY_RULES, {"match": "$..*", "entity": "PII", "operator": "mask"}]},
}

KEYS = [
    *("name", "Name", "first_name", "email", "phone_number", "Phone-Number", "latitude", "items"),
    *("records", "id", "notes", "x:y", "a@b.example", "user2", "2fa", "", " ", "é", "名前", "k\x00"),
]
STRINGS = [
    *("", " ", "Paris", "Ann", "ann@example.com", "+1 415 555 0143", "4155550143", "10.1.2.3"),
    *("<EMAIL_ADDRESS_1a2b3c4d>", "<PERSON_00ff00ff00ff>", "x <PERSON_00ff00ff> y", "<email_1a2b3c4d>"),
    *("é", "€", "\U0001f600", "\x00", "a\nb", "DE89 3704 0044 0532 0130 00", "ORD-1200001"),
]
NUMBERS: list[Any] = [
    *(0, 1, -1, 999_999, 1_000_000, 1_000_001, -999_999, -1_000_000, -1_000_001, 4155550143),
    *(2**63 - 1, 2**63, -(2**63), -(2**63) - 1, 2**64 + 1, 10**30, -(10**40)),
    *(0.0, -0.0, 1.5, 48.85, 1e300, -1e-300, 1_000_000.0, math.nan, math.inf, -math.inf),
    *(True, False, None),
]


def generated(rng: random.Random, depth: int = 0) -> Any:
    """A JSON value: objects and lists down to four levels, then leaves."""
    roll = rng.random()
    if depth < 4 and roll < 0.3:
        return {rng.choice(KEYS): generated(rng, depth + 1) for _ in range(rng.randint(0, 6))}
    if depth < 4 and roll < 0.5:
        return [generated(rng, depth + 1) for _ in range(rng.randint(0, 5))]
    return rng.choice(STRINGS) if rng.random() < 0.5 else rng.choice(NUMBERS)


def documents(seed: int, count: int) -> list[Any]:
    """Generated documents as `json.loads` reads them (its objects, its memo of repeated keys)."""
    rng = random.Random(seed)
    made = [generated(rng) for _ in range(count)]
    made += [{rng.choice(KEYS): generated(rng, 1) for _ in range(6)} for _ in range(count)]  # objects
    return [json.loads(json.dumps(value)) for value in made]


def places(root: Any) -> dict[int, tuple[Any, ...]]:
    """The path of every container of a copy, by identity."""
    found: dict[int, tuple[Any, ...]] = {}

    def visit(value: Any, path: tuple[Any, ...]) -> None:
        if isinstance(value, dict):
            found[id(value)] = path
            for key, child in value.items():
                visit(child, (*path, key))
        elif isinstance(value, list):
            found[id(value)] = path
            for index, child in enumerate(value):
                visit(child, (*path, index))

    visit(root, ())
    return found


def shape(value: Any) -> Any:
    """A value as types and reprs, with the ids of its leaves (NaN compares equal this way)."""
    if isinstance(value, dict):
        return ("dict", type(value), [(type(k), k, shape(v)) for k, v in value.items()])
    if isinstance(value, list):
        return ("list", type(value), [shape(v) for v in value])
    return (type(value), repr(value), id(value))


def described(collected: Collected, source: Any) -> dict[str, Any]:
    """What a walk built, with every container named by its place in the copy (a KeyError if one
    is not the copy's own) and every text and key that is an object of the input named by its id."""
    where = places(collected.root)
    originals = {id(leaf) for leaf in leaves(source)}

    def text(value: Any) -> Any:
        return (type(value), value, id(value) if id(value) in originals else None)

    return {
        "copy": shape(collected.root),
        "boxed": collected.boxed,
        "texts": [text(value) for value in collected.texts],
        "keys": [text(value) for value in collected.keys],
        "slots": [(where[id(container)], type(slot), slot) for container, slot in collected.slots],
        "key_slots": collected.key_slots,
        "wholes": [
            (where[id(container)], type(slot), slot, text(value), entity, spec)
            for container, slot, value, (entity, spec) in collected.wholes
        ],
        "finite": collected.finite,
    }


def leaves(value: Any) -> list[Any]:
    """Every key and leaf of a value."""
    if isinstance(value, dict):
        return [item for key, child in value.items() for item in (key, *leaves(child))]
    if isinstance(value, list | tuple):
        return [item for child in value for item in leaves(child)]
    return [value]


def memos(rules: FieldRules) -> tuple[Any, ...]:
    return dict(rules.known_keys), dict(rules.known_children)


def assert_same_walks(
    values: list[Any], policy: dict[str, Any], clean: AbstractSet[tuple[str, str | None]] = frozenset()
) -> None:
    masking = MaskingPolicy.model_validate(policy)
    python_rules, native_rules = FieldRules(masking, clean), FieldRules(masking, clean)
    for number, value in enumerate(values):
        before = shape(value)
        reference = collect(value, python_rules, reference=True)
        native = collect(value, native_rules)
        assert shape(value) == before, "the input was changed"
        assert described(native, value) == described(reference, value), f"document {number}: {value!r}"
    assert memos(native_rules) == memos(python_rules)


def known_clean(values: list[Any]) -> set[tuple[str, str | None]]:
    """About half the (text, key) pairs the Python walk gathers from `values` without field rules."""
    rules = FieldRules(MaskingPolicy.model_validate({}))
    walks = [collect(value, rules, reference=True) for value in values]
    pairs = {pair for walk in walks for pair in zip(walk.texts, walk.keys, strict=True)}
    return set(sorted(pairs, key=repr)[::2])


@pytest.mark.parametrize("name", POLICIES)
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_walks_match_on_generated_documents(name: str, seed: int) -> None:
    values = documents(seed, 300)
    assert_same_walks(values, POLICIES[name])
    clean = known_clean(documents(seed + 100, 300) + values[:100])
    assert len(clean) > 50
    assert_same_walks(values, POLICIES[name], clean)
    assert_same_walks(values, POLICIES[name], {pair: None for pair in clean}.keys())  # not a set


class Text(str):
    pass


class Number(int):
    pass


class Real(float):
    pass


class Items(list[Any]):
    pass


def test_the_walks_match_on_python_values_no_parser_makes() -> None:
    """Tuples, OrderedDicts, subclasses of str, int, float and list, keys that are not strings
    (one written as another key's text), other objects: all through `leaf` or the general way."""
    values: list[Any] = [
        OrderedDict([("name", Text("Ann")), ("phone", Number(4155550143)), ("x", Real("nan"))]),
        {"items": ({"name": Text("")}, [Text("Paris"), Number(5), Real(2.5)], Items([1_000_000, "a"]))},
        {1: "x", "1": "y", None: 2_000_000, 2.5: True, False: "z", (1, 2): "ann@example.com"},
        {"latitude": {"deep": [48.85, None, True, math.inf, "<LOCATION_1a2b3c4d>"]}, "records": [{}, []]},
        [OrderedDict(b=1, a=2), (), (Text("<EMAIL_ADDRESS_1a2b3c4d>"),), Number(10**20), object()],
        {"records": [{"id": Text("7")}, {"id": 12_345_678}, {"email": b"bytes"}], "a@b.example": Number(3)},
    ]
    values.append(OrderedDict(reversed(list(values[0].items()))))  # an order of its own
    for policy in POLICIES.values():
        assert_same_walks(values, policy)
        assert_same_walks(values, policy, {("Ann", "name"), ("Paris", "items"), ("2000000", "None")})


def test_the_walks_match_on_crm_records() -> None:
    """Records as bench/_upstreams.py's `crm_records` makes them, and realistic text in values."""
    texts = [sample.text for sample in labelled_set(seed=5, texts=200, records=50)]
    records = [
        {
            "id": str(100_000 + n),
            "firstname": f"Ann{n % 97}",
            "email": f"ann.example{n}@mail{n % 13}.example.com",
            "phone": f"+1 415 555 {n % 10_000:04d}",
            "lifecyclestage": ("lead", "customer", "opportunity")[n % 3],
            "annualrevenue": (n * 7919) % 90_000_000,
            "latitude": 48.85 + n / 1000,
            "notes": texts[n % len(texts)],
        }
        for n in range(2000)
    ]
    value = json.loads(json.dumps({"results": records, "total": len(records)}))
    policy = {"fields": [{"match": "latitude", "entity": "LOCATION"}, {"match": "$..notes", "entity": "PII"}]}
    assert_same_walks([value, value], policy)
    assert_same_walks([value], policy, known_clean([value]))


def test_collect_walks_natively_where_built() -> None:
    assert structure.walk is _native.walk


def test_scalars_and_deep_documents() -> None:
    """A scalar is boxed by `collect` for both; a document deeper than the recursion limit fails
    in both as the Python walk fails, with a RecursionError."""
    assert_same_walks(["Paris", 4155550143, math.nan, None, ""], POLICIES["both"])
    deep: Any = "x"
    for _ in range(100_000):
        deep = [deep]
    rules = FieldRules(MaskingPolicy.model_validate({}))
    with pytest.raises(RecursionError):
        collect(deep, rules, reference=True)
    with pytest.raises(RecursionError):
        collect(deep, rules)
