"""The quick proof of valid arguments (broker/flatschema.py) never says valid where
jsonschema says invalid, and proves the common flat schemas' valid arguments without it."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from broker.flatschema import acceptor

FLAT = [
    {"type": "object", "properties": {"city": {"type": "string", "minLength": 1},
     "nonce": {"type": "string"}}, "required": ["city"], "additionalProperties": False},
    {"type": "object", "properties": {"city": {"type": "string", "maxLength": 3, "title": "City"}}},
    {"type": "object", "properties": {"n": {"type": "integer"}, "x": {"type": "number"},
     "b": {"type": "boolean"}, "z": {"type": "null"}, "any": {"description": "anything"}}, "required": ["n"]},
    {"type": "object", "properties": {}, "additionalProperties": False},
    {"type": "object", "required": ["a", "a"], "description": "no properties declared"},
    {"type": "object", "properties": {"n": {"type": "integer", "minimum": 0, "maximum": 7},
     "x": {"type": "number", "exclusiveMinimum": -1, "exclusiveMaximum": 2.5}}, "required": ["n"],
     "additionalProperties": False},
    {"type": "object", "properties": {"x": {"type": "number", "minimum": 2.0, "exclusiveMaximum": 7}}},
    {"type": "object", "properties": {"n": {"type": "integer", "maximum": 10**400}}},
    {"type": "object", "properties": {"city": {"enum": ["Rio", "Lisbon"]},
     "nonce": {"type": "string", "enum": ["", "é" * 3], "maxLength": 2}}},
    {"type": "object", "properties": {"city": {"type": "string", "pattern": "^[A-Z][a-z]+$"},
     "nonce": {"pattern": "o", "minLength": 1, "type": "string"}}, "required": ["city"]},
]  # fmt: skip
NOT_FLAT = [
    {"type": "object", "properties": {"when": {"type": "string", "format": "date"}}},
    {"type": "object", "properties": {"n": {"type": "integer", "multipleOf": 2}}},
    {"type": "object", "properties": {"n": {"type": "integer", "exclusiveMinimum": True}}},
    {"type": "object", "properties": {"n": {"type": "integer", "maximum": float("nan")}}},
    {"type": "object", "properties": {"s": {"type": "string", "minimum": 1}}},
    {"type": "object", "properties": {"s": {"minimum": 1}}},
    {"type": "object", "properties": {"s": {"enum": ["a", 1]}}},
    {"type": "object", "properties": {"s": {"type": "integer", "enum": ["a"]}}},
    {"type": "object", "properties": {"s": {"type": "string", "pattern": "("}}},
    {"type": "object", "properties": {"s": {"type": "boolean", "pattern": "a"}}},
    {"type": "object", "properties": {"tags": {"type": "array"}}},
    {"type": "object", "properties": {"s": {"type": ["string", "null"]}}},
    {"type": "object", "properties": {"s": {"enum": "ab"}}},
    {"type": "object", "properties": {"s": {"$ref": "#/$defs/s"}}, "$defs": {"s": {"type": "string"}}},
    {"type": "object", "patternProperties": {"^x": {"type": "string"}}},
    {"type": "object", "additionalProperties": {"type": "string"}},
    {"type": "object", "properties": {"s": {"type": "integer", "maxLength": 2}}},
    {"type": "object", "unevaluatedProperties": False},
    {"properties": {"s": {"type": "string"}}},
    {"type": "object", "properties": {"s": True}},
]  # fmt: skip
VALUES: list[Any] = [
    "",
    "Rio",
    "Lisbon",
    "é" * 3,
    0,
    7,
    -1,
    2.0,
    2.5,
    -1.0,
    7.0,
    8,
    10**30,
    float("inf"),
    float("nan"),
    True,
    False,
    None,
    [],
    {},
]
NAMES = ["city", "nonce", "n", "x", "b", "z", "any", "a", "other"]


def argument_sets() -> list[Any]:
    sets: list[Any] = [{}, [], "city", None]
    for name, value in itertools.product(NAMES, VALUES):
        sets.append({name: value})
    for (first, second), value in itertools.product(itertools.combinations(NAMES, 2), VALUES[:8]):
        sets.append({first: value, second: "Rio"})
        sets.append({first: "Rio", second: value})
    sets += [{"n": 1, "x": 2.5, "b": True, "z": None, "any": [1]}, {"a": 1}, {"city": "Rio", "nonce": "1-2"}]
    return sets


@pytest.mark.parametrize("schema", FLAT + NOT_FLAT)
def test_valid_only_where_jsonschema_finds_no_error(schema: dict[str, Any]) -> None:
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    accept = acceptor(schema)
    assert (accept is None) == (schema in NOT_FLAT)
    proven = 0
    for arguments in argument_sets():
        valid = validator.is_valid(arguments)
        if accept is not None and accept(arguments):
            assert valid, arguments
            proven += 1
        elif accept is not None and type(arguments) is dict and valid:
            # not proven, yet valid: only an integer written as a float, or NaN (within every
            # bound for jsonschema), is left to it
            assert any(type(v) is float and (v.is_integer() or v != v) for v in arguments.values()), arguments
    assert proven > 0 or accept is None


def test_bounded_integers_choices_and_patterns_are_proven_without_jsonschema() -> None:
    accept = acceptor(
        {
            "type": "object",
            "properties": {
                "limit": {"type": "integer", "minimum": 1, "maximum": 100, "description": "page size"},
                "order": {"type": "string", "enum": ["asc", "desc"]},
                "sku": {"type": "string", "pattern": "^SKU-[0-9]{4}$"},
            },
            "required": ["limit"],
            "additionalProperties": False,
        }
    )
    assert accept is not None
    assert accept({"limit": 100, "order": "desc", "sku": "SKU-0042"})
    assert accept({"limit": 1})
    for beyond in (
        {"limit": 0},
        {"limit": 101},
        {"limit": 5.0},
        {"limit": 5, "order": "up"},
        {"limit": 5, "sku": "SKU-42"},
    ):
        assert not accept(beyond), beyond  # jsonschema decides (and refuses all but 5.0)
