"""The native write-back (`_native.splice_back`) writes exactly what `spliced_back` writes.

The two are held to the same masked strings (equal, and stored alike: the same width and ASCII
flag, as `"".join` would store them), written to the same slots, the same object keys returned
for renaming, and the same counts in the same order. Strings are generated in every storage
width (ASCII, Latin-1, BMP, beyond it) with findings touching, overlapping kept ones, at both
ends and empty, under plans of every operator of policies/masking.py (empty and wide fixed
texts, wide tokens and masking characters); then what only the Python way takes (findings as
lists, bool or negative offsets, offsets past the end, overlapping masked findings, plans and
pieces that are no str) and the errors both raise; end to end, the masker's output on CRM
records like the benchmarks' and on tests/pii/labelled.py's JSON samples. The values to tokenise
(`_native.token_requests`, gathered from the same findings) are held to `requested_tokens` alike.
"""

from __future__ import annotations

import json
import random
import sys
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from broker.pii import engine as engine_module
from broker.pii import splicing
from broker.pii.context import Found
from broker.pii.engine import MaskingEngine
from broker.pii.splicing import Keyed, Plan, Plans, requested_tokens, spliced_back, spliced_each
from policies.masking import MaskingPolicy
from tests.pii.labelled import labelled_set

_native = pytest.importorskip(
    "broker.pii._native", reason="broker.pii._native is not built (no Rust toolchain or crates): make native"
)

SALT = b"splice-test-salt-0123456789"
EVERY_OPERATOR = {
    "entities": {
        "EMAIL_ADDRESS": "token",
        "PHONE_NUMBER": {"operator": "mask", "keep_last": 4, "char": "#"},
        "IP_ADDRESS": "hash",
        "IBAN_CODE": "keep",
        "CREDIT_CARD": {"operator": "replace", "value": "\U0001f512"},  # a fixed text beyond the BMP
        "US_SSN": {"operator": "mask", "keep_last": 2, "char": "\u2022"},  # a BMP masking character
        "CRYPTO": {"operator": "mask", "keep_last": 0, "char": "\U0001f600"},
        "URL": "replace",
        "PERSON": {"operator": "replace", "value": "\u00e9"},  # Latin-1
    },
    "default_operator": "redact",  # an empty fixed text
    "fields": [{"match": "latitude", "entity": "LOCATION"}],
}
ENTITIES = [*EVERY_OPERATOR["entities"], "LOCATION", "US_DRIVER_LICENSE"]  # type: ignore[misc]
PIECES = ["a", "Z", "0", " ", "@", "\x00", "\n", "\x7f", "\x80", "\u00e9", "\u00ff", "\u0100", "\u20ac"]
PIECES += ["\ud7ff", "\uffff", "\U00010000", "\U0001f600", "\U0010ffff"]
ASCII = PIECES[:8]
Written = tuple[list[Any], list[tuple[str, int]], list[tuple[Any, str, str, int]], list[tuple[str, int]]]


def stored(text: Any) -> Any:
    """A masked string and how it is stored (width and ASCII flag show in its size)."""
    return (text, sys.getsizeof(text)) if type(text) is str else text


def text_of(rng: random.Random) -> str:
    """A string in one of the four widths, often ASCII with a wider character at one place."""
    pieces = ASCII if rng.random() < 0.4 else PIECES
    text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 30)))
    if text and rng.random() < 0.3:
        at = rng.randrange(len(text))
        text = text[:at] + rng.choice(PIECES[8:]) + text[at + 1 :]
    return text


def findings_of(rng: random.Random, text: str) -> list[Found]:
    """Sorted findings, some touching, some empty, some at either end, a kept one now and then
    overlapping the next."""
    spans: list[Found] = []
    position = 0
    while position <= len(text) and len(spans) < 6:
        start = position + (0 if rng.random() < 0.4 else rng.randint(0, 5))
        end = start + (0 if rng.random() < 0.1 else rng.randint(1, 8))
        if end > len(text):
            if rng.random() < 0.5 or start > len(text):
                break
            end = len(text)
        spans.append((start, end, rng.choice(ENTITIES), 0.5))
        position = start if spans[-1][2] == "IBAN_CODE" and rng.random() < 0.5 else end
    return spans


def tokens_of(findings: list[list[Found]], texts: list[str]) -> dict[tuple[str, str], str]:
    """A token for every finding's value: holding the value, so as wide as it (one is empty)."""
    tokens = {
        (e, texts[i][s:t]): f"<T{texts[i][s:t]}>" for i, spans in enumerate(findings) for s, t, e, _ in spans
    }
    tokens["EMAIL_ADDRESS", ""] = ""
    return tokens


def layout(rng: random.Random, texts: list[str]) -> tuple[list[tuple[Any, str | int]], set[int], list[Any]]:
    """Slots for the texts: list items, dict values, and object keys (some in `key_slots`)."""
    items: list[Any] = [None] * len(texts)
    objects: list[dict[str, Any]] = [{} for _ in range(5)]
    slots: list[tuple[Any, str | int]] = []
    key_slots: set[int] = set()
    for index, text in enumerate(texts):
        where = rng.random()
        if where < 0.5:
            slots.append((items, index))
        elif where < 0.75:
            target = rng.choice(objects)
            slots.append((target, f"k{index}"))
        else:
            target = rng.choice(objects)
            target[text] = index
            slots.append((target, text))
            if rng.random() < 0.8:
                key_slots.add(index)
    return slots, key_slots, [items, objects]


def write(
    splice_back: Callable[..., Keyed],
    texts: list[str],
    findings: list[list[Found]],
    tokens: dict[tuple[str, str], str],
    plans: Plans,
    seed: int,
) -> Written:
    """One write-back into fresh containers (laid out by `seed`): what it wrote and returned."""
    slots, key_slots, containers = layout(random.Random(seed), texts)
    counts: Counter[str] = Counter()
    keyed = splice_back(texts, findings, slots, key_slots, tokens, counts, plans)
    items, objects = containers
    written = [stored(item) for item in items]
    in_objects = [(key, stored(value)) for target in objects for key, value in target.items()]
    returned = [(stored(key), stored(masked), objects.index(target)) for target, key, masked in keyed]
    return written, in_objects, returned, list(counts.items())  # type: ignore[return-value]


def plans_of(policy: dict[str, Any]) -> Plans:
    return MaskingEngine(MaskingPolicy.model_validate(policy), SALT)._by_entity


def assert_same(
    texts: list[str],
    findings: list[list[Found]],
    tokens: dict[tuple[str, str], str],
    plans: Callable[[], Plans],
    seed: int = 0,
) -> Written:
    reference = write(spliced_back, texts, findings, tokens, plans(), seed)
    native = write(_native.splice_back, texts, findings, tokens, plans(), seed)
    assert native == reference
    each = []  # and each string spliced into a list (`splice_each`, a scanned document's write-back)
    for splice_each in (spliced_each, _native.splice_each):
        counts: Counter[str] = Counter()
        masked = splice_each(texts, findings, tokens, counts, plans())
        each.append(([stored(text) for text in masked], list(counts.items())))
    assert each[1] == each[0]
    return native


@pytest.mark.parametrize("seed", range(6))
def test_the_write_backs_match_on_generated_strings(seed: int) -> None:
    rng = random.Random(seed)
    texts = [text_of(rng) for _ in range(3000)]
    findings = [findings_of(rng, text) if rng.random() < 0.8 else [] for text in texts]
    written, _, returned, counts = assert_same(
        texts, findings, tokens_of(findings, texts), lambda: plans_of(EVERY_OPERATOR), seed
    )
    assert returned and len(counts) == len(ENTITIES) - 1  # keys renamed; every entity but kept IBANs
    widths = {max(map(ord, text), default=0).bit_length() for text, _ in filter(None, written)}
    assert {0, 7, 8, 16, 17, 21} <= widths  # results of every width were written


def test_the_write_backs_match_on_what_only_python_takes() -> None:
    """Findings as lists, bool and negative offsets, offsets past the end, overlapping findings
    masked, an int too big for an index: the native way hands those strings to Python."""
    text = "call ann@example.com or +1 415 555 0143 \u20ac"
    odd: list[list[Any]] = [
        [[5, 20, "EMAIL_ADDRESS", 1.0]],
        [(False, True, "URL", 1.0), (5, 20, "EMAIL_ADDRESS", 1.0)],
        [(-6, -1, "PHONE_NUMBER", 1.0)],
        [(24, 99, "PHONE_NUMBER", 1.0)],
        [(5, 20, "URL", 1.0), (10, 24, "PHONE_NUMBER", 1.0)],
        [(5, 20, "URL", 1.0), (20, 10, "PHONE_NUMBER", 1.0)],
        [(2**70, 3, "URL", 1.0)],
        ((5, 20, "EMAIL_ADDRESS", 1.0),),  # a tuple of findings
        [(0, 4, "IBAN_CODE", 1.0), (2, 6, "URL", 1.0)],  # a kept finding overlapping a masked one
    ]
    for findings in odd:
        for ahead in ([], [(0, 4, "URL", 1.0)]):  # alone, and after a string the native way took
            texts = [text, text]
            pair = [list(ahead), findings]
            tokens = tokens_of([[(5, 20, "EMAIL_ADDRESS", 1.0)]], [text])
            assert_same(texts, pair, tokens, lambda: plans_of(EVERY_OPERATOR))  # type: ignore[arg-type]


def test_the_write_backs_match_on_plans_and_pieces_of_any_kind() -> None:
    """Plans read as the reference reads them (truthy `keep`), and pieces that are no str."""

    class Text(str):
        pass

    made: dict[str, Plan] = {
        "ONE": (1, None, "#"),  # type: ignore[dict-item]
        "EMPTY": ("", None, Text("sub")),  # type: ignore[dict-item]
        "UPPER": (False, str.upper, None),
        "WIDE": (False, lambda value: value + "\U0001f600", None),
    }
    texts = ["ab cd ef", "\u00e9\u00e9 x", "\U0001f600 zz"]
    findings: list[list[Found]] = [
        [(0, 2, "ONE", 1.0), (3, 5, "UPPER", 1.0), (6, 8, "WIDE", 1.0)],
        [(0, 2, "UPPER", 1.0), (3, 4, "EMPTY", 1.0)],
        [(2, 4, "WIDE", 1.0), (0, 1, "ONE", 1.0)],
    ]
    assert_same(texts, findings, {}, lambda: Plans(made.__getitem__))
    for broken in [(False, lambda value: 5, None), (False, None, 7), [False, None, "x"], (False, None)]:
        outcomes = []
        for splice_back in (spliced_back, _native.splice_back):
            plans = Plans({**made, "ONE": broken}.__getitem__)  # type: ignore[dict-item]
            try:
                outcomes.append(write(splice_back, texts, findings, {}, plans, 0))
            except (TypeError, ValueError) as failure:
                outcomes.append((type(failure), str(failure)))  # type: ignore[arg-type]
        assert outcomes[0] == outcomes[1]
        assert broken != [False, None, "x"] or isinstance(outcomes[0][0], list)  # a list unpacks too


def test_the_write_backs_raise_alike_for_a_token_not_issued() -> None:
    texts = ["a x@y.example b"]
    findings: list[list[Found]] = [[(2, 13, "EMAIL_ADDRESS", 1.0)]]
    for splice_back in (spliced_back, _native.splice_back):
        with pytest.raises(KeyError) as failure:
            write(splice_back, texts, findings, {}, plans_of(EVERY_OPERATOR), 0)
        assert failure.value.args == (("EMAIL_ADDRESS", "x@y.example"),)


def crm_records() -> dict[str, Any]:
    """Records as bench/_upstreams.py's `crm_records` makes them, with realistic notes and
    e-mail addresses as keys (scanned, masked and renamed)."""
    notes = [sample.text for sample in labelled_set(seed=5, texts=300, records=0)]
    records = [
        {
            "id": str(100_000 + n),
            "firstname": f"Ann{n % 97}",
            "email": f"ann.example{n}@mail{n % 13}.example.com",
            "phone": f"+1 415 555 {n % 10_000:04d}",
            "ip": f"10.{n % 256}.{n // 256 % 256}.7",
            "latitude": 48.85 + n / 1000,
            "notes": notes[n % len(notes)],
            "seen": {f"ann{n}@mail.example": "\u00e9t\u00e9", "wide \U0001f600": f"bob{n}@x.example"},
        }
        for n in range(1500)
    ]
    return {"results": records, "total": len(records)}


def labelled_json() -> list[dict[str, str]]:
    """tests/pii/labelled.py's JSON samples as records: each value under its key."""
    records: list[dict[str, str]] = [{}]
    for sample in labelled_set(seed=13, texts=0, records=300):
        if sample.key in records[-1]:
            records.append({})
        records[-1][sample.key or "text"] = sample.text
    return records


@pytest.mark.parametrize(
    "policy", [{"entities": {"EMAIL_ADDRESS": "token", "PHONE_NUMBER": "token"}}, EVERY_OPERATOR]
)
def test_the_masker_writes_alike_end_to_end(policy: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """`mask_text_as_proposed` (a worker's job) with the native write-back and with the reference."""
    documents = [
        json.dumps(crm_records(), ensure_ascii=False),
        json.dumps(labelled_json(), ensure_ascii=False, indent=2),
    ]
    masking = MaskingPolicy.model_validate(policy)
    native = [MaskingEngine(masking, SALT).mask_text_as_proposed("agent", doc) for doc in documents]
    assert engine_module.splice_back is _native.splice_back  # what the engine runs where built
    assert engine_module.token_requests is _native.token_requests
    monkeypatch.setattr(engine_module, "splice_back", spliced_back)
    monkeypatch.setattr(engine_module, "token_requests", requested_tokens)
    reference = [MaskingEngine(masking, SALT).mask_text_as_proposed("agent", doc) for doc in documents]
    assert native == reference
    for outcome, mine in zip(native, reference, strict=True):
        assert outcome is not None and mine is not None and sum(outcome[1].values()) > 1000
        assert list(outcome[1].items()) == list(mine[1].items())  # the counts in the same order
    assert '"ann0@mail.example"' in documents[0] and '"ann0@mail.example"' not in native[0][0]  # type: ignore[index]


def test_splicing_uses_the_native_write_back_where_built() -> None:
    assert splicing.splice_back is _native.splice_back
    assert splicing.token_requests is _native.token_requests


class Entities(frozenset[str]):
    """A set of entities of its own class: the native way hands it to Python."""


class Tag(str):
    """An entity name of its own class: the native way hands its string to Python."""


@pytest.mark.parametrize("seed", range(3))
def test_the_token_requests_match_on_generated_strings(seed: int) -> None:
    rng = random.Random(seed)
    texts = [text_of(rng) for _ in range(3000)]
    findings = [findings_of(rng, text) if rng.random() < 0.8 else [] for text in texts]
    for tokenized in (frozenset(ENTITIES[::2]), set(ENTITIES[1:4]), Entities(ENTITIES[:3]), frozenset()):
        native = _native.token_requests(texts, findings, tokenized)
        assert native == requested_tokens(texts, findings, tokenized)
        assert [sys.getsizeof(value) for _, value in native] == [
            sys.getsizeof(value) for _, value in requested_tokens(texts, findings, tokenized)
        ]
        assert len(native) > 1000 or not tokenized


def test_the_token_requests_match_on_what_only_python_takes() -> None:
    text = "call ann@example.com or +1 415 555 0143 \u20ac"
    odd: list[Any] = [
        [[5, 20, "EMAIL_ADDRESS", 1.0]],
        [(False, True, "EMAIL_ADDRESS", 1.0), (5, 20, "EMAIL_ADDRESS", 1.0)],
        [(-6, -1, "EMAIL_ADDRESS", 1.0)],
        [(24, 99, "EMAIL_ADDRESS", 1.0)],
        [(20, 10, "EMAIL_ADDRESS", 1.0)],
        [(2**70, 3, "EMAIL_ADDRESS", 1.0)],
        ((5, 20, "EMAIL_ADDRESS", 1.0),),
        [(5, 20, splicing.Plans.__name__, 1.0), (0, 4, Entities.__name__, 1.0)],
        [(0, 4, "EMAIL_ADDRESS", 1.0, "five")],
        [(0, 4, Tag("EMAIL_ADDRESS"), 1.0), (5, 20, "EMAIL_ADDRESS", 1.0)],
    ]
    tokenized = frozenset({"EMAIL_ADDRESS", "Entities"})
    for findings in odd:
        texts, pair = [text, text], [[(0, 4, "EMAIL_ADDRESS", 1.0)], findings]
        outcomes = []
        for requests in (requested_tokens, _native.token_requests):
            try:
                outcomes.append(requests(texts, pair, tokenized))
            except (TypeError, ValueError) as failure:
                outcomes.append((type(failure), str(failure)))  # type: ignore[arg-type]
        assert outcomes[0] == outcomes[1]
