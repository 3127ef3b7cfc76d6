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
]  # fmt: skip
NOT_FLAT = [
    {"type": "object", "properties": {"when": {"type": "string", "format": "date"}}},
    {"type": "object", "properties": {"n": {"type": "integer", "minimum": 1}}},
    {"type": "object", "properties": {"tags": {"type": "array"}}},
    {"type": "object", "properties": {"s": {"type": ["string", "null"]}}},
    {"type": "object", "properties": {"s": {"enum": ["a", "b"]}}},
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
    float("inf"),
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
            # not proven, yet valid: only an integer written as a float is left to jsonschema
            assert any(type(v) is float and v.is_integer() for v in arguments.values()), arguments
    assert proven > 0 or accept is None
