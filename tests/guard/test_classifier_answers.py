"""What the injection classifier's answers mean: the conventions of guard models."""

from __future__ import annotations

import pytest

from broker.guard.classifier import parse_verdict


@pytest.mark.parametrize(
    ("answer", "score"),
    [
        ('{"injection": true, "score": 0.91}', 0.91),
        ('{"injection": false}', 0.0),
        ('```json\n{"jailbreak": true}\n```', 1.0),
        ("unsafe\nS14", 1.0),  # Llama Guard
        ("safe", 0.0),
        ("INJECTION", 1.0),  # prompt-guard labels
        ("BENIGN", 0.0),
        ("0.35", 0.35),
        ("yes.", 1.0),
    ],
)
def test_guard_model_answers(answer: str, score: float) -> None:
    assert parse_verdict(answer) == score


@pytest.mark.parametrize("answer", ["", "I cannot help with that.", '{"score": 7}', '{"label": "x"}', "42"])
def test_anything_else_is_no_verdict(answer: str) -> None:
    with pytest.raises(ValueError):
        parse_verdict(answer)
