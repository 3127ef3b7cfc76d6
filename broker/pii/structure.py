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
    boxed: bool = False
    """The input was a scalar: `root` is a one-item list holding it."""
    texts: list[str] = field(default_factory=list)
    keys: list[str | None] = field(default_factory=list)
    slots: list[tuple[Container, str | int]] = field(default_factory=list)
    """Where each scanned text lives; for a key (see `key_slots`) the slot is (dict, key)."""
    key_slots: set[int] = field(default_factory=set)
    """Indexes into `texts` that are object keys, not values."""
    wholes: list[tuple[Container, str | int, str, Match]] = field(default_factory=list)
    """Values masked whole: container, key or index, the value as text, the rule's outcome."""
    finite: bool = True
    """No NaN or infinity among the numbers left as they are (orjson would write them as null)."""

    @property
    def value(self) -> Any:
        """The copy, with whatever was written into it since."""
        return self.root[0] if self.boxed else self.root


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
        self.known_keys: dict[str, tuple[Match | None, bool]] = {}
        """`key_info` of the keys seen so far."""

    def key_info(self, key: str) -> tuple[Match | None, bool]:
        """The key-name rule matching `key`, and whether the key itself may hold PII. Memoised."""
        info = self.known_keys.get(key)
        if info is None:
            info = (self.by_key.get(normalize_key(key)), _KEY_MAY_HOLD_PII.search(key) is not None)
            if len(self.known_keys) < 50_000:
                self.known_keys[key] = info
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


def collect(value: Any, rules: FieldRules) -> Collected:
    """Copy `value`, gathering texts to scan and values to mask whole."""
    out = Collected()
    texts, keys, slots, wholes = out.texts, out.keys, out.slots, out.wholes
    key_info, child_states_of, known_keys = rules.key_info, rules.child, rules.known_keys

    def leaf(value: Any, parent: Container, slot: str | int, key: str | None, matched: Match | None) -> None:
        # Strings are handled inline by the callers; this is every other scalar, or a matched string.
        if isinstance(value, str):
            if not TOKEN.fullmatch(value):  # a token is masked already
                wholes.append((parent, slot, value, matched))  # type: ignore[arg-type]
        elif isinstance(value, bool) or not isinstance(value, int | float):
            return
        elif matched is not None:
            wholes.append((parent, slot, str(value), matched))
        elif isinstance(value, float):
            if value - value != 0:  # NaN or an infinity
                out.finite = False
        elif abs(value) >= _MIN_SCANNED_INT:
            texts.append(str(value))
            keys.append(key)
            slots.append((parent, slot))

    def walk(value: Any, key: str | None, states: tuple[State, ...], matched: Match | None) -> Any:
        if isinstance(value, dict):
            copy: dict[str, Any] = {}
            size = len(value)
            for child_key, child in value.items():
                if not isinstance(child_key, str):
                    child_key = str(child_key)  # JSON keys are strings
                info = known_keys.get(child_key)  # the memo read here: a call per item costs
                hit, scan_key = key_info(child_key) if info is None else info
                child_states: tuple[State, ...] = ()
                if states:
                    child_states, path_hit = child_states_of(states, child_key, size)
                    if path_hit is not None:
                        hit = path_hit if hit is None else strongest(hit, path_hit)
                if scan_key:
                    out.key_slots.add(len(texts))
                    texts.append(child_key)
                    keys.append(None)
                    slots.append((copy, child_key))
                inner = matched if hit is None else strongest(matched, hit)
                if isinstance(child, str) and inner is None:
                    copy[child_key] = child
                    if child:
                        texts.append(child)
                        keys.append(child_key)
                        slots.append((copy, child_key))
                elif isinstance(child, dict | list | tuple):
                    copy[child_key] = walk(child, child_key, child_states, inner)
                else:
                    copy[child_key] = child
                    leaf(child, copy, child_key, child_key, inner)
            return copy
        items: list[Any] = list(value)
        size = len(items)
        for index, child in enumerate(items):
            inner = matched
            child_states = ()
            if states:
                child_states, hit = child_states_of(states, index, size)
                if hit is not None:
                    inner = strongest(matched, hit)
            if isinstance(child, str) and inner is None:
                if child:
                    texts.append(child)
                    keys.append(key)
                    slots.append((items, index))
            elif isinstance(child, dict | list | tuple):
                items[index] = walk(child, key, child_states, inner)
            else:
                leaf(child, items, index, key, inner)
        return items

    if isinstance(value, dict | list | tuple):
        out.root = walk(value, None, rules.start, None)
    else:
        holder: list[Any] = [value]
        if isinstance(value, str):
            texts.append(value)
            keys.append(None)
            slots.append((holder, 0))
        else:
            leaf(value, holder, 0, None, None)
        out.root, out.boxed = holder, True
    return out
