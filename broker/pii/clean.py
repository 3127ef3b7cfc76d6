"""Strings known to hold no pattern entity, so results that repeat them are not scanned again.

A tool's results repeat most of their strings call after call: units, statuses, country
codes, field names with digits (`temperature_2m`), the same city. What the detector finds in a
string depends only on the string and its JSON key (`Detector.find_many`: no finder looks past
the NUL between two strings), so a (string, key) pair in which nothing was found once holds
nothing the next time either. Only such pairs are kept: nothing the detector takes for an
entity is ever held here. Measured on the tool-path benchmark's weather result (17 short
strings, all recurring): the detector's ~50 µs per call became a few set lookups. The JSON
walk (broker/pii/structure.py) reads the same set and does not gather such pairs at all;
`find_many` still checks what it is given, `find_gathered` trusts the walk.

The memo's own work runs on the detector's distinct pairs (`Detector.find_distinct`: each pair
once, with the slots it fills), in native code where it is built (broker/pii/native/src/memo.rs;
`unseen` and `remembered` are the references): on pii_path's CRM records (5 MB, 66,000 strings)
it went from ~3.1 ms per MB (the pairs zipped, checked, walked again for the clean ones and
counted by a `Counter`) to ~1.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Protocol

from broker.pii.context import Found
from broker.pii.detector import Detector, hand_out

MAX_CHARS = 100
"""Longer strings are not remembered (they rarely recur, and the memo stays small)."""
MAX_ENTRIES = 50_000
"""The memo is emptied when it reaches this size (so at most a few MB)."""
BIG_BATCH = 512
"""More clean pairs than this from one document (a list of records): only those it holds more than
once are remembered. Its ids, amounts and dates occur once (pii_path's 100 KB CRM result: ~1,100
of them; 5 MB: 26,600) and rarely again. Remembered, they filled the memo to 50,000 pairs, emptied
and filled again, and a lookup in a memo that big misses the CPU's caches: over the ~220 pairs such
lists repeat, the 100 KB result's scan costs ~15% less and its detection ~10% less
(`bench/pii_stages.py --kb 100`), more than the strings no longer remembered cost the detector.
That held even for the same ten 100 KB listings masked again and again (the memo holding all of
their pairs before): ~13.5 against ~14.4 ms per MB for the masking stage."""
BIG_KEY = 32
"""More clean pairs than this under one key in a document (a column of a list of records): of those,
only the ones it holds more than once are remembered, however small the document. A listing of 254
records (an id and an amount each: 508 pairs, under `BIG_BATCH`) filled the memo to 50,000 pairs in
a hundred calls, and emptied it, as `BIG_BATCH` describes."""


Pair = tuple[str, str | None]


class Memo(Protocol):
    """What the memo's work asks of it: a set of (string, key) pairs, or the native `CleanMemo`."""

    def __contains__(self, pair: object, /) -> bool: ...
    def __len__(self) -> int: ...
    def __iter__(self) -> Iterator[Pair]: ...
    def isdisjoint(self, pairs: Iterable[Pair], /) -> bool: ...
    def update(self, pairs: Iterable[Pair], /) -> None: ...
    def clear(self) -> None: ...


class CleanStrings:
    """`Detector.find_many` that skips the (string, key) pairs found clean before."""

    __slots__ = ("_detector", "clean")

    def __init__(self, detector: Detector) -> None:
        self._detector = detector
        self.clean: Memo = new_memo()

    def find_many(self, texts: Sequence[str], keys: Sequence[str | None]) -> list[list[Found]]:
        """Findings per string, as `Detector.find_many(texts, keys)` gives them."""
        todo = unseen_pairs(self.clean, texts, keys)
        if todo is None:  # the common case: the JSON walk leaves clean pairs out
            return self._found(texts, keys)
        if not todo:
            return [[] for _ in texts]
        some = self._found([texts[i] for i in todo], [keys[i] for i in todo])
        results: list[list[Found]] = [[] for _ in texts]
        for index, spans in zip(todo, some, strict=True):
            results[index] = spans
        return results

    def find_gathered(self, texts: Sequence[str], keys: Sequence[str | None]) -> list[list[Found]]:
        """`find_many` of what a walk over this memo gathered (`Collected`: none of its pairs is
        held): not looked up again (~20 us of a 100 KB result's 1,300 strings)."""
        return self._found(texts, keys)

    def _found(self, texts: Sequence[str], keys: Sequence[str | None]) -> list[list[Found]]:
        """`Detector.find_many(texts, keys)`, remembering the clean pairs among them."""
        if not texts:
            return []
        which, firsts, first_keys, found = self._detector.find_distinct(texts, keys)
        remember_slots(
            self.clean, which, firsts, first_keys, found, MAX_CHARS, BIG_BATCH, BIG_KEY, MAX_ENTRIES
        )
        return found if len(firsts) == len(texts) else hand_out(found, which)


def unseen(clean: Memo, texts: Sequence[str], keys: Sequence[str | None]) -> list[int] | None:
    """None when `clean` holds none of the (text, key) pairs, else the indexes of those it does not hold."""
    pairs = list(zip(texts, keys, strict=True))
    if clean.isdisjoint(pairs):
        return None
    return [index for index, pair in enumerate(pairs) if pair not in clean]


def remembered(
    clean: Memo,
    which: list[int],
    texts: list[str],
    keys: list[str | None],
    found: list[list[Found]],
    most: int,
    big_batch: int,
    big_key: int,
    most_entries: int,
) -> None:
    """Put into `clean` the pairs of a batch (the distinct pairs `texts` and `keys` at the slots
    `which`, found as `found`) in which nothing was found and whose string has at most `most`
    characters; of those, where the batch holds more than `big_batch` of them or more than
    `big_key` under the pair's key (counting repeats), only the pairs it holds more than once.
    `clean` is emptied first when it would hold more than `most_entries`."""
    fresh = clean_pairs([(texts[slot], keys[slot]) for slot in which], [found[slot] for slot in which], most)
    per_key = Counter(key for _, key in fresh)
    big = len(fresh) > big_batch
    kept = [
        pair for pair, times in Counter(fresh).items() if times > 1 or not (big or per_key[pair[1]] > big_key)
    ]
    if len(clean) + len(kept) > most_entries:
        clean.clear()
    clean.update(kept)


def clean_pairs(
    pairs: list[tuple[str, str | None]], found: list[list[Found]], most: int
) -> list[tuple[str, str | None]]:
    """The pairs in which nothing was found whose string has at most `most` characters."""
    return [pair for pair, spans in zip(pairs, found, strict=True) if not spans and len(pair[0]) <= most]


try:  # the same in native code (broker/pii/native/src/dedupe.rs), where it is built
    from broker.pii._native import clean_pairs as fresh_pairs
except ImportError:  # pragma: no cover - the same, in Python
    fresh_pairs = clean_pairs

try:  # the memo's work in native code (broker/pii/native/src/memo.rs), where it is built
    from broker.pii._native import remember_slots, unseen_pairs
except ImportError:  # pragma: no cover - the same, in Python
    remember_slots, unseen_pairs = remembered, unseen

new_memo: Callable[[], Memo]
try:  # the memo itself, looked up on characters (broker/pii/native/src/clean_memo.rs)
    from broker.pii._native import CleanMemo as new_memo
except ImportError:  # pragma: no cover - a set of pairs
    new_memo = set
