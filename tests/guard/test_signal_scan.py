"""The signal scan tries a signal only where the text holds what its pattern cannot match without:
it may try more than match, never fewer (a signal it skipped would be a missed injection)."""

from __future__ import annotations

import json
import random
import re

from broker.guard import injection
from broker.guard.disguises import disguised_view, normalise
from broker.guard.signal_scan import SignalScan, required
from tests.guard import fresh_set, holdout2_set, holdout_set
from tests.llm.guard_labelled import HAND_WRITTEN_BENIGN, HAND_WRITTEN_INJECTIONS, labelled_set


def random_pattern(rng: random.Random, depth: int = 0) -> str:
    """A pattern over a small alphabet, of the constructs the signals use."""
    pieces = []
    for _ in range(rng.randint(1, 5)):
        pick = rng.random()
        if pick < 0.35 or depth > 2:
            pieces.append("".join(rng.choice("abc ") for _ in range(rng.randint(1, 5))))
        elif pick < 0.5:
            branches = "|".join(random_pattern(rng, depth + 1) for _ in range(rng.randint(2, 4)))
            pieces.append(f"(?:{branches})")
        elif pick < 0.65:
            pieces.append(
                f"(?:{random_pattern(rng, depth + 1)})" + rng.choice(["?", "*", "+", "{1,3}", "{0,2}", "{2}"])
            )
        elif pick < 0.75:
            pieces.append(rng.choice(["[ab]", "[^a]", "\\w", "\\W+", ".", "\\s?", "[a-c]{1,2}", "[bc]"]))
        else:
            pieces.append(rng.choice(["\\b", "(?<!a)", "(?=b)", "(?!c)", "^", "$", "(?<=a )"]))
    return "".join(pieces)


def test_what_a_pattern_requires_is_in_every_text_it_matches() -> None:
    rng = random.Random(21)
    checked = 0
    for _ in range(1500):
        pattern = re.compile(random_pattern(rng))
        clauses = required(pattern)
        for _ in range(40):
            text = "".join(rng.choice("aabbc  ") for _ in range(rng.randint(0, 40)))
            if pattern.search(text):
                checked += 1
                assert all(any(literal in text for literal in clause) for clause in clauses), (
                    pattern.pattern,
                    text,
                    clauses,
                )
    assert checked > 5000
    assert sum(bool(required(re.compile(random_pattern(rng)))) for _ in range(500)) > 150


def test_requirements_read_alternations_and_optional_parts() -> None:
    pattern = re.compile(r"\b(?:ignore|skip) (?:all )?previous instructions?\b")
    (clause,) = required(pattern)
    assert clause == {
        f"{verb} {every}previous instruction{plural}"
        for verb in ("ignore", "skip")
        for every in ("all ", "")
        for plural in ("s", "")
    }
    assert required(re.compile(r"(?:reveal|print)\W+(?:\w+\W+){0,3}(?:system|hidden) prompt")) == [
        {"reveal", "print"},
        {"system prompt", "hidden prompt"},
    ]
    assert required(re.compile(r"(?:a|bcd)xyz")) == [{"axyz", "bcdxyz"}]
    assert required(re.compile(r"(?:hello)?\s*there")) == [{"there"}]
    assert required(re.compile(r"(?i)ignore")) == []  # case folded: not read


def texts() -> list[str]:
    found = [sample.text for seed in (7, 11) for sample in labelled_set(seed)]
    found += HAND_WRITTEN_INJECTIONS + HAND_WRITTEN_BENIGN + fresh_set.INJECTIONS + fresh_set.BENIGN
    for module in (holdout_set, holdout2_set):
        found += [
            text
            for name in dir(module)
            if name.isupper()
            for text in getattr(module, name)
            if isinstance(text, str)
        ]
    return found


def test_every_signal_that_matches_a_text_is_tried_on_it() -> None:
    """The shipped signals over the labelled sets, their normalised and disguise-free views, and
    texts mixed from their pieces (phrases cut and joined anew)."""
    scan = SignalScan([each.pattern for each in injection.SIGNALS])
    rng = random.Random(5)
    samples = texts()
    words = " ".join(samples).split()
    samples += [" ".join(rng.choice(words) for _ in range(rng.randint(3, 40))) for _ in range(3000)]
    views = []
    for text in samples:
        normal = normalise(text)
        views += [normal, disguised_view(text, normal) or normal]
    missed = []
    for view in views:
        tried = set(scan.possible(view))
        missed += [
            (signal.name, view)
            for index, signal in enumerate(injection.SIGNALS)
            if index not in tried and signal.matches(view)
        ]
    assert missed == []
    fired = sum(bool(injection.score(text).signals) for text in samples)
    assert fired > 300


def test_benign_prose_tries_few_signals() -> None:
    """A ticket list full of the gates' common words ('your', 'must', 'system', 'previous')."""
    note = (
        "The guide explains how your team must configure the system before the first release. "
        "Previous versions used another mode; the policy asks for a password rotation every 90 days."
    )
    text = normalise(
        json.dumps([{"id": n, "title": f"Crash on start (#{n})", "body": note} for n in range(20)])
    )
    scan = SignalScan([each.pattern for each in injection.SIGNALS])
    gated = [each for each in injection.SIGNALS if not each.gate or any(word in text for word in each.gate)]
    tried = [each for each in injection._GATES.passing(text)]
    assert len(gated) > 20 and len(tried) < 8
    assert len(scan.possible(text)) < len(injection.SIGNALS) // 3
