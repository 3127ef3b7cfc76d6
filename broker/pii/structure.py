"""Structure-aware masking of decoded JSON: which values to scan, which to mask whole.

`collect` walks a JSON value once and builds a copy of it (the input is never changed). On
the way it

- applies the policy's **field rules**: a value whose key name (compared ignoring case, '_',
  '-' and spaces) or path matches a rule is masked whole, whatever it holds; a matched object
  or list is masked leaf by leaf; where several rules match, the strongest operator wins;
- gathers every other string (and integer of 7+ digits, which may be a phone or a card) to
  scan for pattern entities, with its key as context (`"phone": "4155550143"` is a phone),
  except the (string, key) pairs already found clean (broker/pii/clean.py: most of a tool's
  strings recur call after call, and a pair not gathered costs neither the gathering nor the
  lookup and bookkeeping after it);
- gathers object keys that may hold PII (those with a digit, '@' or ':'), so an e-mail used
  as a key is masked too. Keys are never masked by field rules.

The caller scans the gathered strings in one pass and writes the results into the copy.

`Collected.walk` is the reference; where the native module is built (broker/pii/native/,
`make native`), its `walk` builds the same `Collected` in less than half the time (CRM records:
~8 -> ~3.5 ms per MB) and is used instead.
"""

from __future__ import annotations

import collections.abc
import re
from typing import Any

from broker.memo import Memo
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
_CONTAINERS = (dict, list, tuple)
_NUMBERS = (int, float)


class FieldRules:
    """A policy's field rules, compiled for one walk per document."""

    def __init__(
        self, policy: MaskingPolicy, clean: collections.abc.Container[tuple[str, str | None]] = frozenset()
    ) -> None:
        self.clean = clean
        """(string, key) pairs known to hold no pattern entity (broker/pii/clean.py): not gathered."""
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
        self.known_children: Memo[tuple[tuple[State, ...], str], tuple[tuple[State, ...], Match | None]]
        self.known_children = Memo(50_000)
        """`child` of an object key, per path states: a key's outcome does not depend on the size of
        its object, and an object's keys recur in every record of a result."""

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


def collect(value: Any, rules: FieldRules, *, reference: bool = False) -> Collected:
    """Copy `value`, gathering texts to scan and values to mask whole (by the Python walk, the
    native one's reference, where it is not built or `reference` is set)."""
    out = Collected(rules)
    if isinstance(value, _CONTAINERS):
        out.root = (Collected.walk if reference else walk)(out, value, None, rules.start, None)
    else:
        holder: list[Any] = [value]
        if isinstance(value, str):
            out.texts.append(value)
            out.keys.append(None)
            out.slots.append((holder, 0))
        else:
            out.leaf(value, holder, 0, None, None)
        out.root, out.boxed = holder, True
    return out


class Collected:
    """A copy of the input, and what in it is to be scanned or masked whole.

    The walk is methods of this class, not nested functions: recursive closures are a reference
    cycle per call, garbage that only the cyclic collector frees, and building them cost ~2 µs
    a document. Decoded JSON holds exact `str`, `int`, `float`, `dict` and `list`: those are
    told apart by class and handled inline (a call per leaf and `isinstance` against a union
    cost about a third of the walk of a small result); anything else (subclasses, tuples) goes
    the general way, through `leaf`."""

    __slots__ = ("_rules", "boxed", "finite", "key_slots", "keys", "root", "slots", "texts", "wholes")

    def __init__(self, rules: FieldRules) -> None:
        self._rules = rules
        self.root: Any = None
        self.boxed = False
        """The input was a scalar: `root` is a one-item list holding it."""
        self.texts: list[str] = []
        self.keys: list[str | None] = []
        self.slots: list[tuple[Container, str | int]] = []
        """Where each scanned text lives; for a key (see `key_slots`) the slot is (dict, key)."""
        self.key_slots: set[int] = set()
        """Indexes into `texts` that are object keys, not values."""
        self.wholes: list[tuple[Container, str | int, str, Match]] = []
        """Values masked whole: container, key or index, the value as text, the rule's outcome."""
        self.finite = True
        """No NaN or infinity among the numbers left as they are (orjson would write them as null)."""

    @property
    def value(self) -> Any:
        """The copy, with whatever was written into it since."""
        return self.root[0] if self.boxed else self.root

    def leaf(
        self, value: Any, parent: Container, slot: str | int, key: str | None, matched: Match | None
    ) -> None:
        """Every scalar the walks do not handle inline, or a matched string."""
        if isinstance(value, str):
            if not TOKEN.fullmatch(value):  # a token is masked already
                self.wholes.append((parent, slot, value, matched))  # type: ignore[arg-type]
        elif isinstance(value, bool) or not isinstance(value, _NUMBERS):
            return
        elif matched is not None:
            self.wholes.append((parent, slot, str(value), matched))
        elif isinstance(value, float):
            if value - value != 0:  # NaN or an infinity
                self.finite = False
        elif abs(value) >= _MIN_SCANNED_INT:
            self.texts.append(str(value))
            self.keys.append(key)
            self.slots.append((parent, slot))

    def walk(self, value: Any, key: str | None, states: tuple[State, ...], matched: Match | None) -> Any:
        if isinstance(value, dict):
            return self.walk_object(value, states, matched)
        return self.walk_items(value, key, states, matched)

    def walk_object(
        self, value: dict[Any, Any], states: tuple[State, ...], matched: Match | None
    ) -> dict[str, Any]:
        texts, keys, slots = self.texts, self.keys, self.slots
        rules = self._rules
        known_keys, known_children, clean = rules.known_keys, rules.known_children, rules.clean
        copy: dict[str, Any] = {}
        size = len(value)
        for child_key, child in value.items():
            if child_key.__class__ is not str and not isinstance(child_key, str):
                child_key = str(child_key)  # JSON keys are strings
            info = known_keys.get(child_key)  # the memo read here: a call per item costs
            hit, scan_key = rules.key_info(child_key) if info is None else info
            child_states: tuple[State, ...] = ()
            if states:
                known = known_children.get((states, child_key))
                if known is None:
                    known = known_children.keep((states, child_key), rules.child(states, child_key, size))
                child_states, path_hit = known
                if path_hit is not None:
                    hit = path_hit if hit is None else strongest(hit, path_hit)
            if scan_key and (child_key, None) not in clean:
                self.key_slots.add(len(texts))
                texts.append(child_key)
                keys.append(None)
                slots.append((copy, child_key))
            inner = matched if hit is None else strongest(matched, hit)
            copy[child_key] = child
            kind = child.__class__
            if inner is None and kind is str:
                if child and (child, child_key) not in clean:
                    texts.append(child)
                    keys.append(child_key)
                    slots.append((copy, child_key))
            elif kind is dict:
                copy[child_key] = self.walk_object(child, child_states, inner)
            elif kind is list:
                copy[child_key] = self.walk_items(child, child_key, child_states, inner)
            elif inner is None and kind is float:
                if child - child != 0:  # NaN or an infinity
                    self.finite = False
            elif inner is None and kind is int:
                if child >= _MIN_SCANNED_INT or child <= -_MIN_SCANNED_INT:
                    digits = str(child)
                    if (digits, child_key) not in clean:  # a number, like a string, may be known clean
                        texts.append(digits)
                        keys.append(child_key)
                        slots.append((copy, child_key))
            elif child is None or kind is bool:
                pass  # never scanned nor masked
            elif isinstance(child, str) and inner is None:
                if child and (child, child_key) not in clean:
                    texts.append(child)
                    keys.append(child_key)
                    slots.append((copy, child_key))
            elif isinstance(child, _CONTAINERS):
                copy[child_key] = self.walk(child, child_key, child_states, inner)
            else:
                self.leaf(child, copy, child_key, child_key, inner)
        return copy

    def walk_items(
        self, value: Any, key: str | None, states: tuple[State, ...], matched: Match | None
    ) -> list[Any]:
        # The per-value dispatch below repeats walk_object's on purpose: as a shared method it
        # would cost a call for every JSON value of every result, in the hottest loop of masking.
        texts, keys, slots = self.texts, self.keys, self.slots
        child_of, clean = self._rules.child, self._rules.clean
        items: list[Any] = list(value)
        size = len(items)
        for index, child in enumerate(items):
            inner = matched
            child_states: tuple[State, ...] = ()
            if states:
                child_states, hit = child_of(states, index, size)
                if hit is not None:
                    inner = strongest(matched, hit)
            kind = child.__class__
            if inner is None and kind is str:
                if child and (child, key) not in clean:
                    texts.append(child)
                    keys.append(key)
                    slots.append((items, index))
            elif kind is dict:
                items[index] = self.walk_object(child, child_states, inner)
            elif kind is list:
                items[index] = self.walk_items(child, key, child_states, inner)
            elif inner is None and kind is float:
                if child - child != 0:  # NaN or an infinity
                    self.finite = False
            elif inner is None and kind is int:
                if child >= _MIN_SCANNED_INT or child <= -_MIN_SCANNED_INT:
                    digits = str(child)
                    if (digits, key) not in clean:  # a number, like a string, may be known clean
                        texts.append(digits)
                        keys.append(key)
                        slots.append((items, index))
            elif child is None or kind is bool:
                pass  # never scanned nor masked
            elif isinstance(child, str) and inner is None:
                if child and (child, key) not in clean:
                    texts.append(child)
                    keys.append(key)
                    slots.append((items, index))
            elif isinstance(child, _CONTAINERS):
                items[index] = self.walk(child, key, child_states, inner)
            else:
                self.leaf(child, items, index, key, inner)
        return items


try:
    from broker.pii._native import walk
except ImportError:  # not built: the Python walk
    walk = Collected.walk
