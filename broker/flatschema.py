"""A quick proof that arguments are valid, for the input schemas most tools have: an object of
scalar properties (a string with length bounds, a boolean, an integer, a number, null), some of
them required, others maybe refused.

Why this module exists: arguments that are new each time (nearly every call that is not a cache
hit) were validated by jsonschema's generic machinery, 14 us per call for a two-property schema
(timeit; more on the gateway's busy loop, ~7% of its event-loop time on a federated miss).
`acceptor` reads such a schema once into a plain check. The check only ever says "valid": when
it cannot prove that (a keyword it does not know, a value it does not check, anything refused),
jsonschema validates as before and says what is wrong, so no answer changes. The keywords read
here mean the same in every draft the catalog's validator (Draft 2020-12) could be mistaken for.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

Acceptor = Callable[[Mapping[str, Any]], bool]
"""True: the arguments are valid; False: not proven (jsonschema decides)."""

_ANNOTATIONS = frozenset({"title", "description", "$comment", "examples", "default", "deprecated"})
_PROPERTY_KEYS = _ANNOTATIONS | {"type", "minLength", "maxLength", "readOnly", "writeOnly"}
_OBJECT_KEYS = _ANNOTATIONS | {"type", "properties", "required", "additionalProperties"}
_SCALARS: dict[str, Callable[[Any], bool]] = {
    "string": lambda value: type(value) is str,
    "boolean": lambda value: type(value) is bool,
    "integer": lambda value: type(value) is int,  # 2.0 is an integer too: left to jsonschema
    "number": lambda value: type(value) is int or type(value) is float,
    "null": lambda value: value is None,
}


def acceptor(schema: Any) -> Acceptor | None:
    """A check proving arguments valid against `schema`, or None when it is not of that shape."""
    if not isinstance(schema, dict) or not _OBJECT_KEYS.issuperset(schema) or schema.get("type") != "object":
        return None
    properties, required = schema.get("properties", {}), schema.get("required", [])
    extra = schema.get("additionalProperties", True)  # arguments beyond the declared ones allowed
    if not isinstance(properties, dict) or not isinstance(required, list) or type(extra) is not bool:
        return None
    if not all(isinstance(name, str) for name in required):
        return None
    checks: dict[str, Callable[[Any], bool]] = {}
    for name, declared in properties.items():
        check = _property(declared)
        if check is None:
            return None
        checks[name] = check
    needed = tuple(dict.fromkeys(required))

    def accept(arguments: Mapping[str, Any]) -> bool:
        if type(arguments) is not dict:
            return False
        for name in needed:
            if name not in arguments:
                return False
        for name, value in arguments.items():
            check = checks.get(name)
            if check is None:
                if extra:
                    continue
                return False
            if not check(value):
                return False
        return True

    return accept


def _property(declared: Any) -> Callable[[Any], bool] | None:
    if not isinstance(declared, dict) or not _PROPERTY_KEYS.issuperset(declared):
        return None
    kind = declared.get("type")
    if kind is None:  # annotations only: any value is valid
        return None if "minLength" in declared or "maxLength" in declared else _anything
    scalar = _SCALARS.get(kind) if isinstance(kind, str) else None
    if scalar is None:
        return None
    least, most = declared.get("minLength", 0), declared.get("maxLength")
    if type(least) is not int or not (most is None or type(most) is int):
        return None
    if kind != "string":
        return scalar if "minLength" not in declared and most is None else None
    if least == 0 and most is None:
        return scalar
    bound = most

    def sized(value: Any) -> bool:
        return type(value) is str and least <= len(value) and (bound is None or len(value) <= bound)

    return sized


def _anything(value: Any) -> bool:
    return True
