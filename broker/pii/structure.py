"""Structure-aware masking of decoded JSON: which values to scan, which to mask whole.

`collect` walks a JSON value once and builds a copy of it (the input is never changed). On
the way it

- applies the policy's **field rules**: a value whose key name (compared ignoring case, '_',
  '-' and spaces) or path matches a rule is masked whole, whatever it holds; a matched object
  or list is masked leaf by leaf; where several rules match, the strongest operator wins;
- gathers every other string (and integer of 7+ digits, which may be a phone or a card) to
  scan for pattern entities, with its key as context (`"phone": "4155550143"` is a phone);
- gathers object keys that may hold PII (those with a digit, '@' or ':'), so an e-mail used
  as a key is masked too. Keys are never masked by field rules.

The caller scans the gathered strings in one pass and writes the results into the copy.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from broker.pii.context import normalize_key
from broker.pii.vault import TOKEN
from policies.masking import MaskingPolicy, OperatorSpec, PathStep, parse_path

Container = dict[str, Any] | list[Any]
Match = tuple[str, OperatorSpec]
"""A field rule's outcome for a value: the entity type and the operator."""
State = tuple[int, int]
"""A path rule in progress: (rule index, index of the next step)."""

_KEY_MAY_HOLD_PII = re.compile(r"[\d@:]")
_MIN_SCANNED_INT = 1_000_000


@dataclass(slots=True)
class Collected:
    """A copy of the input, and what in it is to be scanned or masked whole."""

    root: Any = None
    texts: list[str] = field(default_factory=list)
    keys: list[str | None] = field(default_factory=list)
    slots: list[tuple[Container, str | int]] = field(default_factory=list)
    """Where each scanned text lives; for a key (see `key_slots`) the slot is (dict, key)."""
    key_slots: set[int] = field(default_factory=set)
    """Indexes into `texts` that are object keys, not values."""
    wholes: list[tuple[Container, str | int, str, Match]] = field(default_factory=list)
    """Values masked whole: container, key or index, the value as text, the rule's outcome."""


class FieldRules:
    """A policy's field rules, compiled for one walk per document."""

    def __init__(self, policy: MaskingPolicy) -> None:
        self.by_key: dict[str, Match] = {}
        self.paths: list[tuple[tuple[PathStep, ...], Match]] = []
        for rule in policy.fields:
            outcome = (rule.entity, policy.rule_operator(rule))
            if rule.match.startswith("$"):
                self.paths.append((parse_path(rule.match), outcome))
            else:
                key = normalize_key(rule.match)
                self.by_key[key] = strongest(self.by_key.get(key), outcome)
        self.start: tuple[State, ...] = tuple((index, 0) for index in range(len(self.paths)))
        self._keys: dict[str, tuple[Match | None, bool]] = {}

    def key_info(self, key: str) -> tuple[Match | None, bool]:
        """The key-name rule matching `key`, and whether the key itself may hold PII. Memoised."""
        info = self._keys.get(key)
        if info is None:
            info = (self.by_key.get(normalize_key(key)), _KEY_MAY_HOLD_PII.search(key) is not None)
            if len(self._keys) < 50_000:
                self._keys[key] = info
        return info

    def child(
        self, states: tuple[State, ...], key: str | int, size: int
    ) -> tuple[tuple[State, ...], Match | None]:
        """Advance path states into child `key` (an index of a list of `size`); the path rule matching it."""
        matched: Match | None = None
        advanced: list[State] = []
        for rule, index in states:
            steps, outcome = self.paths[rule]
            kind, arg = steps[index]
            if kind == "deep":
                advanced.append((rule, index))  # '..' keeps looking deeper
                hit = arg is None or arg == key
            elif kind == "any":
                hit = True
            elif kind == "child":
                hit = arg == key
            else:
                hit = (
                    isinstance(key, int) and isinstance(arg, int) and key == (arg if arg >= 0 else arg + size)
                )
            if hit:
                if index + 1 == len(steps):
                    matched = strongest(matched, outcome)
                else:
                    advanced.append((rule, index + 1))
        return tuple(advanced), matched


def strongest(current: Match | None, other: Match) -> Match:
    if current is None or other[1].strength > current[1].strength:
        return other
    return current


def collect(value: Any, rules: FieldRules, out: Collected | None = None) -> Collected:
    """Copy `value`, gathering texts to scan and values to mask whole."""
    out = out or Collected()
    holder: list[Any] = [None]
    _walk(value, holder, 0, None, rules, rules.start, None, out)
    out.root = holder[0]
    return out


def _walk(
    value: Any,
    parent: Container,
    slot: str | int,
    key: str | None,
    rules: FieldRules,
    states: tuple[State, ...],
    matched: Match | None,
    out: Collected,
) -> None:
    if isinstance(value, str):
        parent[slot] = value  # type: ignore[index]
        if matched is not None:
            if not TOKEN.fullmatch(value):  # a token is masked already
                out.wholes.append((parent, slot, value, matched))
        elif value:
            out.texts.append(value)
            out.keys.append(key)
            out.slots.append((parent, slot))
    elif isinstance(value, dict):
        copy: dict[str, Any] = {}
        parent[slot] = copy  # type: ignore[index]
        size = len(value)
        for child_key, child in value.items():
            if not isinstance(child_key, str):
                child_key = str(child_key)
            hit, scan_key = rules.key_info(child_key)
            child_states: tuple[State, ...] = ()
            if states:
                child_states, path_hit = rules.child(states, child_key, size)
                if path_hit is not None:
                    hit = path_hit if hit is None else strongest(hit, path_hit)
            if scan_key:
                out.key_slots.add(len(out.texts))
                out.texts.append(child_key)
                out.keys.append(None)
                out.slots.append((copy, child_key))
            inner = matched if hit is None else strongest(matched, hit)
            _walk(child, copy, child_key, child_key, rules, child_states, inner, out)
    elif isinstance(value, list | tuple):
        items: list[Any] = [None] * len(value)
        parent[slot] = items  # type: ignore[index]
        size = len(value)
        for index, child in enumerate(value):
            child_states, hit = rules.child(states, index, size) if states else ((), None)
            inner = matched if hit is None else strongest(matched, hit)
            _walk(child, items, index, key, rules, child_states, inner, out)
    else:
        parent[slot] = value  # type: ignore[index]
        if isinstance(value, bool) or not isinstance(value, int | float):
            return
        if matched is not None:
            out.wholes.append((parent, slot, str(value), matched))
        elif isinstance(value, int) and abs(value) >= _MIN_SCANNED_INT:
            out.texts.append(str(value))
            out.keys.append(key)
            out.slots.append((parent, slot))
