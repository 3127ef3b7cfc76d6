"""Writing masked strings back: each scanned string with findings rebuilt with its findings masked.

`spliced_back` is the masker's write-back loop (`Masker._write_back`): ~8,000 strings a MB of CRM
records, one or two findings each. Where broker/pii/native/ is built, `_native.splice_back`
(src/splice.rs) does the same in native code; the Python here stays the reference and the
fallback, and tests/pii/test_native_splice.py holds the two to the same output. So do
`requested_tokens` (the values to tokenise, gathered before the write-back from the same findings)
and `_native.token_requests`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from collections.abc import Set as AbstractSet
from itertools import compress
from typing import Any

from broker.pii.context import Found
from broker.pii.operators import Apply

Plan = tuple[bool, Apply | None, str | None]
"""What one entity's values become: kept as they are; else the fixed text every value becomes (not
None), else its token (operator None), else what its operator makes of it."""
Keyed = list[tuple[dict[str, Any], str, str]]
"""Masked object keys: the dict, the key, the key masked (renamed by the caller, in this order)."""


class Plans(dict[str, Plan]):
    """The `Plan` of each entity, made by `make` on first use."""

    __slots__ = ("_make",)

    def __init__(self, make: Callable[[str], Plan]) -> None:
        super().__init__()
        self._make = make

    def __missing__(self, entity: str) -> Plan:
        plan = self[entity] = self._make(entity)
        return plan


def splice(
    text: str, spans: Sequence[Found], tokens: dict[tuple[str, str], str], counts: Counter[str], plans: Plans
) -> str:
    """`text` with its findings masked as `plans` says, each one masked counted in `counts`."""
    pieces: list[str] = []
    position = 0
    for start, end, entity, _ in spans:
        keep, operate, fixed = plans[entity]
        if keep:
            continue
        pieces.append(text[position:start])
        if fixed is not None:
            pieces.append(fixed)
        elif operate is None:
            pieces.append(tokens[entity, text[start:end]])  # as `operators.tokenize` does, without its call
        else:
            pieces.append(operate(text[start:end]))
        position = end
        counts[entity] += 1
    pieces.append(text[position:])
    return "".join(pieces)


def spliced_back(
    texts: list[str],
    findings: list[list[Found]],
    slots: list[tuple[Any, str | int]],
    key_slots: set[int],
    tokens: dict[tuple[str, str], str],
    counts: Counter[str],
    plans: Plans,
) -> Keyed:
    """Each string of `texts` with findings, spliced and written to its slot; object keys are
    returned for the caller to rename."""
    keyed: Keyed = []
    for index in compress(range(len(findings)), findings):  # strings with findings only
        masked = splice(texts[index], findings[index], tokens, counts, plans)
        container, slot = slots[index]
        if index in key_slots and isinstance(container, dict) and isinstance(slot, str):
            keyed.append((container, slot, masked))
        else:
            container[slot] = masked
    return keyed


def spliced_each(
    texts: list[str],
    findings: list[list[Found]],
    tokens: dict[tuple[str, str], str],
    counts: Counter[str],
    plans: Plans,
) -> list[str | None]:
    """Each string of `texts` with findings spliced, None for the others: the write-back of a
    document masked from its text (`Masker._as_proposed_scanned`), whose values have no containers."""
    masked: list[str | None] = [None] * len(findings)
    for index in compress(range(len(findings)), findings):  # strings with findings only
        masked[index] = splice(texts[index], findings[index], tokens, counts, plans)
    return masked


def requested(
    text: str, spans: Sequence[Found], tokenized: AbstractSet[str], found: list[tuple[str, str]]
) -> None:
    """Appends (entity, value) to `found` for each of `text`'s findings of a `tokenized` entity."""
    for start, end, entity, _ in spans:
        if entity in tokenized:
            found.append((entity, text[start:end]))


def requested_tokens(
    texts: list[str], findings: list[list[Found]], tokenized: AbstractSet[str]
) -> list[tuple[str, str]]:
    """(entity, value) of each finding to tokenise, in order, once per time its token is written."""
    found: list[tuple[str, str]] = []
    for index in compress(range(len(findings)), findings):  # strings with findings only
        requested(texts[index], findings[index], tokenized, found)
    return found


try:
    from broker.pii._native import splice_back as splice_back
    from broker.pii._native import splice_each as splice_each
    from broker.pii._native import token_requests as token_requests
except ImportError:  # not built: the Python write-back
    splice_back = spliced_back
    splice_each = spliced_each
    token_requests = requested_tokens
