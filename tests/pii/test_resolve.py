"""Overlap resolution: clustering gives exactly what ranking every finding against every other gives."""

from __future__ import annotations

import random

from broker.pii.context import Found
from broker.pii.detector import PATTERN_ENTITIES, resolve


def reference(found: list[Found]) -> list[Found]:
    """The rule, written plainly: strongest first, keep what overlaps nothing kept; sorted by start."""
    priority = {entity: rank for rank, entity in enumerate(PATTERN_ENTITIES)}
    ranked = sorted(found, key=lambda f: (f[0] - f[1], -f[3], priority[f[2]], f[0]))
    kept: list[Found] = []
    for item in ranked:
        if all(item[1] <= other[0] or other[1] <= item[0] for other in kept):
            kept.append(item)
    return sorted(kept, key=lambda f: f[0])


def test_resolve_matches_the_plain_rule_on_random_findings() -> None:
    rng = random.Random(11)
    for _ in range(3000):
        found: list[Found] = []
        for _ in range(rng.randint(0, 14)):
            start = rng.randint(0, 60)
            found.append(
                (start, start + rng.randint(1, 15), rng.choice(PATTERN_ENTITIES), rng.choice((0.5, 0.9, 1.0)))
            )
        assert resolve(list(found)) == reference(found), found


def test_findings_apart_are_all_kept_in_order() -> None:
    found: list[Found] = [(20, 25, "EMAIL_ADDRESS", 1.0), (0, 5, "US_SSN", 0.9), (5, 9, "SECRET", 0.8)]
    assert resolve(found) == [found[1], found[2], found[0]]
