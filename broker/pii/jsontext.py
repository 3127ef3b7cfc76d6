"""JSON text in and out of the masker: parsed without cyclic GC, written as `json.dumps` would."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import orjson

from broker.pii.nogc import gc_paused

if TYPE_CHECKING:
    from broker.pii._native import Scan
    from broker.pii.structure import Collected

Renamer = Callable[[list[str], dict[str, str]], list[str]]
Emit = Callable[["Scan", list[str | None], dict[int, str], bool, Renamer], bytes | None]


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
    for (_, value), key in zip(items, renamed([key for key, _ in items], names), strict=True):
        container[key] = value


def renamed(keys: list[str], names: dict[str, str]) -> list[str]:
    """An object's keys (distinct, in order) as `rename_keys` names them."""
    taken: set[str] = set()
    final: list[str] = []
    for key in keys:
        new = names.get(key, key)
        candidate, number = new, 2
        while candidate in taken:
            candidate, number = f"{new} #{number}", number + 1
        taken.add(candidate)
        final.append(candidate)
    return final


try:  # JSON text masked without the Python document (broker/pii/native/src/scan/), where built
    from broker.pii import _native

    scan_json: Callable[[Collected, str, dict[int, str]], Scan | None] | None = _native.scan_json
    emit_json: Emit | None = _native.emit_json
except ImportError:  # not built: every document is parsed
    scan_json = emit_json = None
