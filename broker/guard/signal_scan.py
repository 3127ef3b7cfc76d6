"""Which injection signals may match a text: the literals each pattern cannot match without, all
found in one Aho-Corasick pass.

The gates of most signals are common words ("your", "must", "system", "previous"), so a benign
prose result (a ticket, a page of docs) passes ~26 of them, and each regex then read the whole
text: ~1.2 ms per 2 KB on the event loop, for every such tool result the audit looks at (now
~0.45). A pattern is tried only when the text holds what it requires; the verdicts are still
the regexes' own.

What a pattern requires (`required`) is a list of clauses, each a set of literals one of which is
in every text the pattern matches. As RE2's prefilter reads a regex: a part that matches one of
a few strings is that exact set (`instructions?`: {instruction, instructions}; a sequence joins
its parts' sets while they stay small, and an assertion, which consumes nothing, joins what is
around it); a set too large, or a part of unknown strings, closes the sequence's set into a
clause. An alternation whose every branch requires something gives clauses that each take one
of every branch's; a part that may repeat zero times, a class or a category requires nothing.
Clauses with a literal shorter than three characters are dropped (they are everywhere): fewer
clauses only let more patterns be tried.

Measured and not used: Hyperscan (the `hyperscan` package, 0.9.1) over supersets of the patterns
(~25 us per 2 KB) missed a match (`(?:for|in|during) (?:this|our) (?:chat)` in one sentence,
found once a character was cut from its start), and RE2's Python binding of FilteredRE2 ignores
its DFA's failure, so a text built to exhaust that DFA would make every pattern look
impossible. A miss here is a missed injection: this one is sound by construction, and the tests
hold it to random patterns' matches and to every signal's own.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Sequence
from re import _constants as sre  # type: ignore[attr-defined]
from re import _parser as sre_parse  # type: ignore[attr-defined]
from typing import Any

import ahocorasick_rs

from connectors.literals import literal_matches

Clause = frozenset[str]
SHORTEST = 3
"""The shortest literal a clause may hold."""


def required(pattern: re.Pattern[str]) -> list[Clause]:
    """The clauses every text `pattern` matches satisfies (module docstring)."""
    if pattern.flags & re.IGNORECASE:
        return []
    return [
        clause
        for clause in _Info.of_items(sre_parse.parse(pattern.pattern, pattern.flags)).clauses()
        if _kept(clause)
    ]


def _kept(clause: Clause) -> bool:
    return all(len(literal) >= SHORTEST and not _UNSEARCHED.search(literal) for literal in clause)


_UNSEARCHED = re.compile("[\ud800-\udfff\ufffd]")
"""What `literal_matches` cannot find as written (a lone surrogate is searched as U+FFFD)."""

EXACT = 16
"""The most strings an exact set holds (`instructions?` is {instruction, instructions})."""


class _Info:
    """What a part of a pattern matches: exactly one of the strings `exact` (None: not known),
    and the clauses `required` that every text it matches satisfies."""

    __slots__ = ("exact", "required")

    def __init__(self, exact: set[str] | None, required: list[Clause] | None = None) -> None:
        self.exact = exact
        self.required = required or []

    def clauses(self) -> list[Clause]:
        if self.exact is None or "" in self.exact:
            return self.required
        return [*self.required, frozenset(self.exact)]

    @classmethod
    def of_items(cls, items: Any) -> _Info:
        """A sequence: its parts' exact sets joined while they stay small, else closed into a
        clause and begun again."""
        required: list[Clause] = []
        exact: set[str] = {""}
        whole = True  # exact throughout: the sequence's set is `exact`
        for op, value in items:
            part = cls.of_item(op, value)
            required += part.required
            if part.exact is not None and len(exact) * len(part.exact) <= EXACT:
                exact = {before + after for before in exact for after in part.exact}
                continue
            whole = False
            required += _Info(exact).clauses()
            exact = part.exact if part.exact is not None else {""}
        if whole:
            return _Info(exact, required)
        return _Info(None, required + _Info(exact).clauses())

    @classmethod
    def of_item(cls, op: Any, value: Any) -> _Info:
        if op is sre.LITERAL:
            return _Info({chr(value)})
        if op is sre.AT or op is sre.ASSERT or op is sre.ASSERT_NOT:
            return _Info({""})  # consumes nothing: what is around it is side by side in the text
        if op is sre.IN:
            chars = [chr(each) for kind, each in value if kind is sre.LITERAL]
            return _Info(set(chars) if len(chars) == len(value) <= 4 else None)
        if op is sre.SUBPATTERN:
            _group, added, _removed, body = value
            return cls.of_items(body) if not added & re.IGNORECASE else _Info(None)
        if op is sre.BRANCH:
            branches = [cls.of_items(branch) for branch in value[1]]
            union: set[str] = set()
            for branch in branches:
                if branch.exact is None or branch.required or len(union | branch.exact) > EXACT:
                    return _Info(None, _either([branch.clauses() for branch in branches]))
                union |= branch.exact
            return _Info(union)
        if op is sre.MAX_REPEAT or op is sre.MIN_REPEAT:
            least, most, body = value
            part = cls.of_items(body)
            if part.exact is not None and most == 1 and not part.required:
                return _Info(part.exact | ({""} if least == 0 else set()))
            return _Info(None, part.clauses() if least >= 1 else [])
        return _Info(None)  # any character, a class, a category, a back reference


def _either(branches: list[list[Clause]]) -> list[Clause]:
    """What an alternation requires: (a and b) or (c and d) is (a or c) and (a or d) and (b or c)
    and (b or d), one clause for each way to pick a clause of every branch (of the most
    selective few of each, while they make at most `PRODUCTS`)."""
    kept = [sorted(filter(_kept, clauses), key=_selectivity, reverse=True) for clauses in branches]
    if not all(kept):
        return []  # a branch that requires nothing: neither does the alternation
    width = 1
    while width < max(map(len, kept)) and math.prod(min(len(each), width + 1) for each in kept) <= PRODUCTS:
        width += 1
    return [frozenset().union(*picked) for picked in itertools.product(*(each[:width] for each in kept))]


def _selectivity(clause: Clause) -> int:
    return min(map(len, clause))


PRODUCTS = 64
"""The most clauses one alternation gives."""


class SignalScan:
    """`possible(text)`: the indexes of `patterns` whose requirements `text` meets."""

    def __init__(self, patterns: Sequence[re.Pattern[str]]) -> None:
        requirements = [required(pattern) for pattern in patterns]
        literals = sorted({literal for clauses in requirements for clause in clauses for literal in clause})
        number = {literal: index for index, literal in enumerate(literals)}
        self._requirements = [
            [frozenset(number[literal] for literal in clause) for clause in clauses]
            for clauses in requirements
        ]
        self._automaton = ahocorasick_rs.AhoCorasick(literals) if literals else None

    def possible(self, text: str, among: Sequence[int] | None = None) -> list[int]:
        """The indexes of the patterns whose requirements `text` meets (of those `among`)."""
        present: set[int] = set()
        if self._automaton is not None:
            present = {index for index, _, _ in literal_matches(self._automaton, text, overlapping=True)}
        requirements = self._requirements
        return [
            index
            for index in (range(len(requirements)) if among is None else among)
            if all(not clause.isdisjoint(present) for clause in requirements[index])
        ]
