"""The semantic cache's key: what must be equal for two prompts to share an answer. Near misses
that differ in one answer-changing word never share a key (the bench, bench/semantic_cache.py,
also compares embeddings; this checks the key alone, which holds whatever the embedding model)."""

from __future__ import annotations

import pytest

from broker.llm.semantic.keys import prompt_key


def key(text: str) -> str:
    found = prompt_key("cached", {"messages": [{"role": "user", "content": text}]})
    assert found is not None
    return found.exact


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("flights from London to Paris", "flights from Paris to London"),
        ("cancel my subscription", "don't cancel my subscription"),
        ("refund the order", "do not refund the order"),
        ("show me the largest customers", "show me the smallest customers"),
        ("give me the top five deals", "give me the top ten deals"),
        ("how many users signed up last week", "how many users signed up last month"),
        ("approve the expense report", "reject the expense report"),
        ("what was revenue yesterday", "what was revenue today"),
        ("refund order 12345", "refund order 12346"),
    ],
)
def test_answer_changing_words_set_prompts_apart(first: str, second: str) -> None:
    assert key(first) != key(second)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("list the open tickets of the support queue", "list all open tickets in the support queue"),
        (
            "what is the weather forecast for Paris tomorrow",
            "what's the weather forecast for Paris tomorrow?",
        ),
    ],
)
def test_paraphrases_keep_one_key(first: str, second: str) -> None:
    assert key(first) == key(second)
