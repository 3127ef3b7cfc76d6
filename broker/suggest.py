"""'Did you mean ...?' for a mistyped field or name (difflib's close matches)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any


def closest(word: str, candidates: Iterable[str]) -> str | None:
    """The candidate closest to `word`, if one is close enough to be a typo of it: compared
    whole, case-insensitively, then by first word (`timout` finds `timeout_seconds`)."""
    names = [c for c in candidates if isinstance(c, str)]
    for key in (str, str.lower, _first_word):
        keyed: dict[str, str] = {}
        for name in names:
            keyed.setdefault(key(name), name)
        matches = difflib.get_close_matches(key(word), list(keyed), n=1, cutoff=0.75)
        if matches:
            return keyed[matches[0]]
    return None


def _first_word(name: str) -> str:
    return name.lower().split("_", 1)[0]


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """'; did you mean 'x'?' to append to a message, or '' when nothing is close."""
    match = closest(word, candidates)
    return f"; did you mean '{match}'?" if match is not None and match != word else ""


def field_names_at(schema: Mapping[str, Any], loc: Sequence[str | int]) -> set[str]:
    """The property names a JSON schema allows for the object at `loc` (pydantic's error location:
    union tags such as 'http' that are not properties are stepped over)."""
    defs: Mapping[str, Any] = schema.get("$defs", {})
    current = _expand([schema], defs)
    for part in loc:
        if isinstance(part, int):
            found = [s["items"] for s in current if isinstance(s.get("items"), Mapping)]
        else:
            found = [s["properties"][part] for s in current if part in s.get("properties", {})]
            found += [
                s["additionalProperties"]
                for s in current
                if part not in s.get("properties", {}) and isinstance(s.get("additionalProperties"), Mapping)
            ]
        if found:
            current = _expand(found, defs)
        # else: a union tag or function name pydantic put in the location; stay where we are
    return {name for s in current for name in s.get("properties", {})}


def _expand(schemas: list[Any], defs: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """Follow $refs and spread anyOf/oneOf/allOf, so each schema left may have properties."""
    out: list[Mapping[str, Any]] = []
    pending = list(schemas)
    seen = 0
    while pending and seen < 1000:
        seen += 1
        item = pending.pop(0)
        if not isinstance(item, Mapping):
            continue
        ref = item.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            pending.append(defs.get(ref.removeprefix("#/$defs/"), {}))
        for key in ("anyOf", "oneOf", "allOf"):
            pending.extend(item.get(key) or [])
        out.append(item)
    return out
