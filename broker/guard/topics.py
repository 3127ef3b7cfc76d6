"""Denied topics: how close a text comes to a topic's description and examples.

A topic is compiled once into weighted term sets (its description and each example, words
folded to a crude stem, stop words out). A text's similarity to the topic is the best, over
the topic's description and examples, of the share of that reference's weight the text
covers, so a prompt that contains the gist of an example scores near 1 however much else it
says. It is lexical, shipped with the gateway and needs no model: a topic with a few varied
examples catches the paraphrases that reuse their words (no model is consulted).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from policies.guardrails import TopicRule

_WORD = re.compile(r"[^\W\d_]{2,}", re.UNICODE)
_STOP = frozenset(
    [
        "a",
        "about",
        "above",
        "after",
        "again",
        "against",
        "all",
        "also",
        "am",
        "an",
        "and",
        "any",
        "are",
        "as",
        "at",
        "be",
        "because",
        "been",
        "before",
        "being",
        "below",
        "between",
        "both",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "doing",
        "down",
        "during",
        "each",
        "few",
        "for",
        "from",
        "further",
        "had",
        "has",
        "have",
        "having",
        "he",
        "her",
        "here",
        "hers",
        "herself",
        "him",
        "himself",
        "his",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "itself",
        "just",
        "me",
        "more",
        "most",
        "my",
        "myself",
        "no",
        "nor",
        "not",
        "now",
        "of",
        "off",
        "on",
        "once",
        "only",
        "or",
        "other",
        "our",
        "ours",
        "ourselves",
        "out",
        "over",
        "own",
        "please",
        "same",
        "she",
        "should",
        "so",
        "some",
        "such",
        "than",
        "that",
        "the",
        "their",
        "theirs",
        "them",
        "themselves",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "through",
        "to",
        "too",
        "under",
        "until",
        "up",
        "very",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "whom",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
        "yours",
        "yourself",
        "yourselves",
        "tell",
        "give",
        "get",
        "want",
        "need",
        "know",
        "let",
        "make",
        "like",
        "help",
        "one",
        "may",
        "might",
        "must",
        "shall",
        "us",
        "ask",
        "asking",
    ]
)
_SUFFIXES = ("ations", "ation", "ings", "ing", "ers", "er", "ies", "ied", "es", "ed", "ly", "s")


def stem(word: str) -> str:
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def terms(text: str) -> set[str]:
    return {stem(w) for w in (m.casefold() for m in _WORD.findall(text)) if w not in _STOP}


@dataclass(frozen=True, slots=True)
class Match:
    topic: str
    similarity: float
    action: str


class Topic:
    def __init__(self, rule: TopicRule) -> None:
        self.rule = rule
        self.references = [t for t in (terms(x) for x in (rule.description, *rule.examples)) if t]

    def similarity(self, text_terms: set[str], weights: dict[str, float]) -> float:
        best = 0.0
        for reference in self.references:
            total = sum(weights.get(t, 1.0) for t in reference)
            covered = sum(weights.get(t, 1.0) for t in reference if t in text_terms)
            best = max(best, covered / total if total else 0.0)
        return best


class TopicMatcher:
    """The denied topics of one effective guardrails section, compiled once."""

    def __init__(self, rules: Sequence[TopicRule]) -> None:
        self.topics = [Topic(rule) for rule in rules]
        # Rarer terms (across every reference of every topic) weigh more than common ones.
        counts: dict[str, int] = {}
        documents = [reference for topic in self.topics for reference in topic.references]
        for reference in documents:
            for term in reference:
                counts[term] = counts.get(term, 0) + 1
        n = max(len(documents), 1)
        self.weights = {term: 1.0 + math.log(n / count) for term, count in counts.items()}

    def match(self, text: str) -> list[Match]:
        """The topics `text` falls under (at or over each topic's threshold), closest first."""
        if not self.topics or not text:
            return []
        text_terms = terms(text)
        found = []
        for topic in self.topics:
            similarity = topic.similarity(text_terms, self.weights)
            if similarity >= topic.rule.threshold:
                found.append(Match(topic.rule.name, round(similarity, 3), topic.rule.action))
        return sorted(found, key=lambda m: -m.similarity)
