"""A quick proof that arguments are valid, for the input schemas most tools have: an object of
scalar properties (a string with length bounds, a pattern or a list of choices; a boolean; an
integer or a number with bounds; null), some of them required, others maybe refused.

Why this module exists: arguments that are new each time (nearly every call that is not a cache
hit) were validated by jsonschema's generic machinery, 14 us per call for a two-property schema
(timeit; more on the gateway's busy loop, ~7% of its event-loop time on a federated miss).
`acceptor` reads such a schema once into a plain check. The check only ever says "valid": when
it cannot prove that (a keyword it does not know, a value it does not check, anything refused),
jsonschema validates as before and says what is wrong, so no answer changes. The keywords read
here mean the same in every draft the catalog's validator (Draft 2020-12) could be mistaken for,
bar the exclusive bounds, which Draft 4 wrote as booleans: those are left to jsonschema. A bounded
integer (`"limit": {"type": "integer", "minimum": 1, "maximum": 100}`) is as common as a plain
one: it cost a call with new arguments ~0.1 ms of jsonschema (pii_path's `kb` and `seed`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

Acceptor = Callable[[Mapping[str, Any]], bool]
"""True: the arguments are valid; False: not proven (jsonschema decides)."""

_ANNOTATIONS = frozenset({"title", "description", "$comment", "examples", "default", "deprecated"})
_LENGTHS = frozenset({"minLength", "maxLength"})
_BOUNDS = {  # keyword -> (bound, value) -> whether the value is within it
    "minimum": lambda bound, value: bound <= value,
    "maximum": lambda bound, value: value <= bound,
    "exclusiveMinimum": lambda bound, value: bound < value,
    "exclusiveMaximum": lambda bound, value: value < bound,
}
_CHOSEN = frozenset({"enum", "pattern"})
_PROPERTY_KEYS = _ANNOTATIONS | _LENGTHS | _BOUNDS.keys() | _CHOSEN | {"type", "readOnly", "writeOnly"}
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
    """A check of one property's value that says True only where jsonschema would too."""
    if not isinstance(declared, dict) or not _PROPERTY_KEYS.issuperset(declared):
        return None
    kind = declared.get("type")
    scalar = _SCALARS.get(kind) if isinstance(kind, str) else None
    if scalar is None and kind is not None:
        return None
    if not _LENGTHS.isdisjoint(declared) and kind != "string":
        return None
    if not _BOUNDS.keys().isdisjoint(declared) and kind not in ("integer", "number"):
        return None
    if not _CHOSEN.isdisjoint(declared) and kind not in (None, "string"):
        return None
    checks = [scalar] if scalar is not None else []
    for make in (_length, _bounds, _choices, _pattern):
        try:
            made = make(declared)
        except _Unread:
            return None
        if made is not None:
            checks.append(made)
    return _every(checks)


class _Unread(Exception):
    """A keyword's value this module does not read (jsonschema decides)."""


Made = Callable[[Any], bool] | None
"""A check to add, or None where the keywords it reads are absent."""


def _length(declared: dict[str, Any]) -> Made:
    least, most = declared.get("minLength", 0), declared.get("maxLength")
    if type(least) is not int or not (most is None or type(most) is int):
        raise _Unread
    if least == 0 and most is None:
        return None

    def sized(value: Any) -> bool:
        return type(value) is str and least <= len(value) and (most is None or len(value) <= most)

    return sized


def _bounds(declared: dict[str, Any]) -> Made:
    checks: list[Callable[[Any], bool]] = []
    for keyword, within in _BOUNDS.items():
        if keyword not in declared:
            continue
        bound = declared[keyword]
        if type(bound) is not int and (type(bound) is not float or not math.isfinite(bound)):
            raise _Unread  # a Draft 4 boolean, NaN, a string
        checks.append(partial(within, bound))
    return _every(checks) if checks else None


def _choices(declared: dict[str, Any]) -> Made:
    if "enum" not in declared:
        return None
    choices = declared["enum"]
    if type(choices) is not list or not all(type(choice) is str for choice in choices):
        raise _Unread
    allowed = frozenset(choices)
    return lambda value: type(value) is str and value in allowed


def _pattern(declared: dict[str, Any]) -> Made:
    if "pattern" not in declared:
        return None
    try:  # as jsonschema reads it: `re.search`
        search = re.compile(declared["pattern"]).search
    except (re.error, TypeError) as error:
        raise _Unread from error
    return lambda value: type(value) is str and search(value) is not None


def _every(checks: list[Callable[[Any], bool]]) -> Callable[[Any], bool]:
    if not checks:
        return _anything
    if len(checks) == 1:
        return checks[0]

    def every(value: Any) -> bool:
        return all(check(value) for check in checks)  # in order: the type's first

    return every


def _anything(value: Any) -> bool:
    return True
