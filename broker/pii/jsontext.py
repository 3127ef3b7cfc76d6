"""JSON text in and out of the masker: parsed without cyclic GC, written as `json.dumps` would."""

from __future__ import annotations

import json
from typing import Any

import orjson

from broker.pii.nogc import gc_paused


def parse(text: str) -> Any:
    with gc_paused():  # a document is many new containers: see broker/pii/nogc.py
        return json.loads(text)


def serialise(value: Any, indent: int | None = None, fast: bool = True) -> str:
    """JSON text of `value`, compact or indented by 2, non-ASCII as is (as `json.dumps` writes it).

    orjson writes the same text 4-5 times faster. It would write NaN and infinities as null, so
    pass `fast=False` for a value that may hold them; integers beyond 64 bits go to `json`.
    """
    if fast:
        try:
            return orjson.dumps(value, option=orjson.OPT_INDENT_2 if indent else 0).decode()
        except TypeError:
            pass
    separators = None if indent else (",", ":")
    return json.dumps(value, ensure_ascii=False, indent=indent, separators=separators)


def rename_keys(container: dict[str, Any], names: dict[str, str]) -> None:
    """Rename keys in place, keeping order; a masked key that clashes gets ' #2', ' #3', ..."""
    items = list(container.items())
    container.clear()
    for key, value in items:
        new = names.get(key, key)
        candidate, number = new, 2
        while candidate in container:
            candidate, number = f"{new} #{number}", number + 1
        container[candidate] = value
