"""Run the recognizers over text and resolve overlaps into one deterministic list of findings.

Many strings (the string values of a JSON document) are scanned in one pass: they are joined
by NUL, which no pattern matches, and findings are mapped back to each string. Overlaps are
resolved by length (the longest finding wins), then score, then a fixed entity priority,
then position, so the same input always gives the same output.

Speed (measured on this 2-core machine under load, CRM-like JSON; figures in MB/s of text
scanned): the detector runs ~5-10 MB/s; two thirds of it is the number finder's Python
classification of digit runs (ids, dates, amounts, phones), not the regex passes (~25%).
A one-pass multi-pattern prefilter was measured and not adopted: Hyperscan 0.9.1 over eight
hint patterns (e-mail '@', IBAN, IPv4/IPv6 hints, token prefixes, auth, assignment, digit-run
starts) ran at 11-12 MB/s, slower than the regex passes it would replace, because every hint is
a Python callback (90-160k per MB in this data) and it scans UTF-8 bytes, whose offsets must be
mapped back to string indices; RE2 (google-re2 1.1) found digit-run starts at 1-2 MB/s (its
per-match cost in Python). Both rates are per MB of text, whatever the result's size. The
masker over CRM results (JSON text, tokens for e-mails and phones, CPU time) went from 3.5 /
4.7 / 3.4 MB/s to 3.8 / 4.8 / 4.4 MB/s on 2 KB / 100 KB / 5 MB results with the changes kept:
overlaps resolved per cluster of overlapping findings, key verdicts cached per scan, and the
masker's (orjson, batched tokens, no GC in long synchronous stretches). Later: strings that recur
under one key are scanned once per call.

Later (issue 10; same output, fuzzed against the old finders): the digit-run regex starts with a
character class, and runs that classification rejects whatever surrounds them (amounts, IPv4
addresses, dates, ZIP+4, bare digits opening a value under an id/time/amount key) are dropped
before any Python work; the e-mail local part is read back by one regex, IPv4 octets checked by
one. find_many (GC paused, as the masker runs it) went from 120 to 72 ms/MB on pii_path's CRM
records and from 116 to 93 on bench/pii.py's corpus (back to back, load ~5); on the latter only
~3,000 digit runs per MB still reach Python, 95% of them findings. Measured and not kept: mypyc
over the detector, recognizers, context, validators and the structure walk gave 1.3-1.36x on the
worker's job (1.2-1.5x with the masker too), short of what a C build step in every checkout
would have to pay for; memoising classification per distinct digit run (no run repeats in the
CRM records, 12% in the corpus); one IPv4 regex with look-behinds for the first octet and a
regex walk-back for IPv6 (both slower than the hint and the short Python loop); an assignment
finder anchored on the name's ending (no literal first character: 6x slower) or on a look-behind
before the operator (no gain). What bounds the rate now: the regex passes (~38 ms/MB for the
digit runs alone), the classification of real findings (~15 us each), and outside the detector
the walk, write-back and token HMACs.

Later still (issue 10; same output, each new pattern fuzzed against the one it replaced): a
pattern whose first item is a class costs a test per character of text (~4 ns) and a match
attempt at each character it lets through, where a literal first is found by fast search (~0.3
ms per MB). So the secret finders look for literals ('=' and ':' apart, each token prefix's last
character apart, the words of `Bearer` / `Basic` / `Token`), the digit-run class is '0-9' and
U+0660 up instead of \\d's Unicode test, IPv6 candidates (one per timestamp) are looked at only in
strings holding '::' or six colons in a row, and PHONE_CONTEXT starts with a class of its words'
first letters. The context words before a number (order, invoice, a currency, a version, a glued
code) are matched once on the reversed text, not searched at every position of the window
(4.4 -> 0.5 us on 25 characters). find_many went from 60 to 47 ms/MB on pii_path's CRM records
and from 70 to 54 on bench/pii.py's corpus (interleaved, min of 9, load ~1.7); the worker's whole
job (bench/pii_stages.py) from 94-102 to 86-90 ms/MB. Measured and not kept: digit runs and their
offsets in bulk (`re.split` with the run as its group, a running sum of piece lengths, `_NEVER`
mapped in C: 23.4 against 23.5 ms/MB, the regex pass itself is the cost: ~186,000 digits per MB
each start a match attempt); itertools/operator chains instead of short loops (slower on 3.11);
orjson to parse (it reads integers beyond 64 bits as floats); hashlib or _hashlib HMACs for tokens
(0.62 and 0.73 us against the cryptography context copy's 0.57).
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Sequence
from itertools import accumulate, islice
from operator import itemgetter, lt

from presidio_anonymizer.entities import RecognizerResult

from broker.pii.context import SEPARATOR, Found, Scan, key_is_secret
from broker.pii.recognizers import find_emails, find_ibans, find_ips
from broker.pii.recognizers_number import find_numbers
from broker.pii.recognizers_secret import find_secrets, keyed_secret

PATTERN_ENTITIES: tuple[str, ...] = (
    "SECRET",
    "CREDIT_CARD",
    "IBAN_CODE",
    "US_SSN",
    "EMAIL_ADDRESS",
    "IP_ADDRESS",
    "PHONE_NUMBER",
)
"""The entity types found by patterns, in overlap priority order (earlier wins a tie)."""
_PRIORITY = {entity: rank for rank, entity in enumerate(PATTERN_ENTITIES)}
_NUMBERS = frozenset({"CREDIT_CARD", "US_SSN", "PHONE_NUMBER"})
_START, _END = itemgetter(0), itemgetter(1)


class Detector:
    """Finds pattern entities in text. Safe to share (its one state is a memo of key verdicts)."""

    def __init__(self, entities: Iterable[str] | None = None) -> None:
        chosen = frozenset(PATTERN_ENTITIES if entities is None else entities)
        unknown = chosen - set(PATTERN_ENTITIES)
        if unknown:
            raise ValueError(f"unknown pattern entities: {', '.join(sorted(unknown))}")
        self.entities = tuple(e for e in PATTERN_ENTITIES if e in chosen)
        numbers = chosen & _NUMBERS
        finders: list[Callable[[Scan, list[Found]], None]] = []
        if "SECRET" in chosen:
            finders.append(find_secrets)
        if numbers:
            finders.append(lambda scan, out: find_numbers(scan, out, numbers))
        for entity, finder in (
            ("IBAN_CODE", find_ibans),
            ("EMAIL_ADDRESS", find_emails),
            ("IP_ADDRESS", find_ips),
        ):
            if entity in chosen:
                finders.append(finder)
        self._finders = tuple(finders)
        self._secret_keys: dict[str, bool] = {}

    def find(self, text: str, key: str | None = None) -> list[Found]:
        """Findings in one string, sorted by start, without overlaps."""
        if not text:
            return []
        if key is not None:
            return self.find_many([text], [key])[0]
        return resolve(self._run(Scan(text)))

    def find_many(self, texts: Sequence[str], keys: Sequence[str | None] = ()) -> list[list[Found]]:
        """Findings per string (offsets relative to each string), scanning all of them in one pass.

        A string that comes again under the same key (a status, a date, a country, a name in
        every record of a result) is scanned once: what is found in a string depends only on
        the string and its key (no finder looks past the NUL between two strings).
        """
        if not texts:
            return []
        which, firsts, _, found = self.find_distinct(texts, keys)
        return found if len(firsts) == len(texts) else hand_out(found, which)

    def find_distinct(
        self, texts: Sequence[str], keys: Sequence[str | None] = ()
    ) -> tuple[list[int], list[str], list[str | None], list[list[Found]]]:
        """The slot of each (string, key) pair among the distinct pairs, those pairs' strings and
        keys in order of first occurrence (no keys given: none), and the findings in each."""
        which, firsts, first_keys = distinct_pairs(texts, keys)
        return which, firsts, first_keys, self._scan_many(firsts, first_keys)

    def _scan_many(self, texts: Sequence[str], keys: Sequence[str | None]) -> list[list[Found]]:
        joined = SEPARATOR.join(texts)
        keyed = self._keyed_secrets(texts, keys) if keys and "SECRET" in self.entities else []
        if joined.count(SEPARATOR) != len(texts) - 1:
            # A NUL inside a value would blur string boundaries: scan the strings one by one.
            key_list = list(keys) or [None] * len(texts)
            return [self._scan_one(t, k) for t, k in zip(texts, key_list, strict=True)]
        starts = string_starts(texts if type(texts) is list else list(texts))
        found = self._run(Scan(joined, starts, keys))
        found.extend((starts[i], starts[i] + len(texts[i]), "SECRET", 0.85) for i in keyed)
        return spread_found(resolve(found), starts)

    def _scan_one(self, text: str, key: str | None) -> list[Found]:
        """Findings in one string scanned alone, with its key: a string holding NUL (which the
        finders read as the end of a string, as between the strings of `_scan_many`)."""
        if key is None:
            return resolve(self._run(Scan(text)))
        found = self._run(Scan(text, [0], [key]))
        if "SECRET" in self.entities and self._keyed_secrets([text], [key]):
            found.append((0, len(text), "SECRET", 0.85))
        return resolve(found)

    def analyze(self, text: str, key: str | None = None) -> list[RecognizerResult]:
        """The findings as presidio `RecognizerResult`s."""
        return [
            RecognizerResult(entity, start, end, score) for start, end, entity, score in self.find(text, key)
        ]

    def _keyed_secrets(self, texts: Sequence[str], keys: Sequence[str | None]) -> list[int]:
        """Indexes of values held under a credential key: each is a SECRET whole."""
        verdicts = self._secret_keys  # key names recur call after call: judged once
        secret: set[str] = set()
        for key in set(keys):  # a few distinct keys per document: judged here, not per value
            if key is None:
                continue
            verdict = verdicts.get(key)
            if verdict is None:
                if len(verdicts) >= 50_000:
                    verdicts.clear()
                verdict = verdicts[key] = key_is_secret(key)
            if verdict:
                secret.add(key)
        if not secret:
            return []
        return [index for index, key in enumerate(keys) if key in secret and keyed_secret(texts[index])]

    def _run(self, scan: Scan) -> list[Found]:
        found: list[Found] = []
        for finder in self._finders:
            finder(scan, found)
        return found


def distinct(
    texts: Sequence[str], keys: Sequence[str | None]
) -> tuple[list[int], list[str], list[str | None]]:
    """The slot of each (text, key) pair among the distinct pairs, and those pairs' texts and keys
    in order of first occurrence (no keys given: none in the result either)."""
    key_list: Sequence[str | None] = keys or [None] * len(texts)
    slots: dict[tuple[str, str | None], int] = {}
    which = [slots.setdefault(pair, len(slots)) for pair in zip(texts, key_list, strict=True)]
    return which, [text for text, _ in slots], [key for _, key in slots] if keys else []


def handed_out(found: list[list[Found]], which: list[int]) -> list[list[Found]]:
    """The findings of each slot in `which`: the slot's own list the first time, a new copy after
    (`found` is the caller's to give away: no two results share a list)."""
    taken = [False] * len(found)
    results: list[list[Found]] = []
    for slot in which:
        if taken[slot]:
            results.append(list(found[slot]) if found[slot] else [])
        else:
            taken[slot] = True
            results.append(found[slot])
    return results


def starts_of(texts: Sequence[str]) -> list[int]:
    """Where each string starts in `SEPARATOR.join(texts)`."""
    starts: list[int] = []
    position = 0
    for text in texts:
        starts.append(position)
        position += len(text) + 1
    return starts


def spread(found: list[Found], starts: list[int]) -> list[list[Found]]:
    """Each finding of the joined text in the list of the string it starts in, relative to it."""
    results: list[list[Found]] = [[] for _ in starts]
    for start, end, entity, score in found:
        index = bisect.bisect_right(starts, start) - 1
        base = starts[index]
        results[index].append((start - base, end - base, entity, score))
    return results


try:  # the native bookkeeping (broker/pii/native/src/spread.rs), where it is built
    from broker.pii._native import distinct_pairs as distinct_pairs
    from broker.pii._native import spread_found as spread_found
    from broker.pii._native import string_starts as string_starts
except ImportError:  # pragma: no cover - the same, in Python
    distinct_pairs, spread_found, string_starts = distinct, spread, starts_of


def resolved(found: list[Found]) -> list[Found]:
    """Drop findings that overlap a stronger one: longer, then higher score, then priority, then earlier.

    Findings that overlap nothing (most of them) are kept as they are; only each cluster of
    overlapping findings is ranked, so the cost stays linear in the number of findings. This is
    the reference for the native `resolve` (broker/pii/native/src/resolve.rs), which returns the
    same tuples in the same order: ~0.1 ms per MB of pii_path's CRM records where this took ~1.6
    (~36,600 findings in 5 MB, nearly all apart).
    """
    if len(found) < 2:
        return found
    # By start, then longest first, else as found: two stable sorts on C keys (a Python key
    # function, called per finding, cost more).
    ordered = sorted(found, key=_END, reverse=True)
    ordered.sort(key=_START)
    # A finding overlaps an earlier one when it starts before the furthest end so far; when none
    # does (most results), every cluster below would be one finding: found in C, without the loop.
    if not any(map(lt, map(_START, islice(ordered, 1, None)), accumulate(map(_END, ordered), max))):
        return ordered
    kept: list[Found] = []
    cluster = [ordered[0]]
    reach = ordered[0][1]
    for item in ordered[1:]:
        if item[0] < reach:
            cluster.append(item)
            reach = max(reach, item[1])
            continue
        kept.extend(cluster if len(cluster) == 1 else _strongest(cluster))
        cluster = [item]
        reach = item[1]
    kept.extend(cluster if len(cluster) == 1 else _strongest(cluster))
    return kept


def _strongest(cluster: list[Found]) -> list[Found]:
    """The findings of one overlapping cluster that no stronger finding overlaps, by start."""
    ranked = sorted(cluster, key=lambda f: (f[0] - f[1], -f[3], _PRIORITY.get(f[2], 99), f[0]))
    starts: list[int] = []
    kept: list[Found] = []
    for item in ranked:
        start, end = item[0], item[1]
        index = bisect.bisect_right(starts, start)
        if index and kept[index - 1][1] > start:
            continue
        if index < len(kept) and kept[index][0] < end:
            continue
        starts.insert(index, start)
        kept.insert(index, item)
    return kept


resolve: Callable[[list[Found]], list[Found]]
try:  # native where it is built (broker/pii/native/src/resolve.rs, memo.rs)
    from broker.pii._native import hand_out as hand_out
    from broker.pii._native import resolve_found as resolve
except ImportError:  # pragma: no cover - the same, in Python
    resolve, hand_out = resolved, handed_out
