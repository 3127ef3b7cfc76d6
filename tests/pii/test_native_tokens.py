"""The native first tokens (broker/pii/native/src/tokens.rs) are their Python reference's
(`reference_tokens_for` in broker/pii/operators.py): HMAC-SHA256 through OpenSSL, over any text."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from broker.pii.operators import AgentMac, agent_mac, reference_tokens_for, token_for, tokens_for
from tests.pii.labelled import labelled_set

_native = pytest.importorskip(
    "broker.pii._native", reason="broker.pii._native is not built (no Rust toolchain or crates): make native"
)

# ASCII, NUL, newlines, Latin-1, 2-byte (BMP, incl. U+FFFF) and astral characters.
PIECES = [
    *"<>_@.0123456789abcXYZ-:\x00\n ",
    "\x7f",
    "\x80",
    "é",
    "ÿ",
    "€",
    "\u0661",
    "\uffff",
    "\U0001d7ce",
    "\ud800",  # lone surrogates (JSON "\\ud800"), both halves, at the ends of the range
    "\udbff",
    "\udc00",
    "\udfff",
    "\U0010ffff",
    "EMAIL_ADDRESS",
]
ENTITIES = ["EMAIL_ADDRESS", "PHONE_NUMBER", "IBAN_CODE", "E", "", "É_NTITY", "\x00", "€", "\U0001f600"]


def generated(seed: int, count: int) -> list[tuple[str, str]]:
    rng = random.Random(seed)

    def text() -> str:
        # messages on both sides of SHA-256's 64-byte block (55/56 bytes end the first one)
        return "".join(
            rng.choice(PIECES) for _ in range(rng.choice([0, 1, 8, 30, 40, 42, 55, 56, 64, 65, 200]))
        )

    entities = ENTITIES + ["".join(rng.choice(PIECES) for _ in range(3)) for _ in range(40)]
    return [(rng.choice(entities), text()) for _ in range(count)]


def agent(seed: int) -> AgentMac:
    return agent_mac(f"salt-{seed}".encode() * 3, f"agent-{seed}")


def same(native: dict[tuple[str, str], str], reference: dict[tuple[str, str], str]) -> None:
    """Equal dicts, the same key objects in the same order, the values exact strs."""
    assert native == reference
    assert [id(request) for request in native] == [id(request) for request in reference]
    assert all(type(token) is str for token in native.values())


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_tokens_match_the_reference_on_generated_requests(seed: int) -> None:
    requests = generated(seed, 20_000)
    requests += requests[:300]  # the same requests again, as other tuple objects and as the same
    requests += [tuple(request) for request in requests[:300:3]]  # type: ignore[misc]
    mac = agent(seed)
    same(_native.keyed_tokens(mac._key, requests), reference_tokens_for(mac, requests))
    counted = Counter(requests)  # what the masker passes: a Counter, iterated for its keys
    same(tokens_for(mac, counted), reference_tokens_for(mac, counted))


def test_tokens_match_around_the_block_boundaries_and_long_values() -> None:
    requests = [
        (entity, "v" * length) for entity in ("E", "EMAIL_ADDRESS", "é" * 30) for length in range(300)
    ]
    requests += [("PHONE_NUMBER", "\U0001d7ce" * length) for length in range(100)]
    mac = agent(4)
    same(tokens_for(mac, requests), reference_tokens_for(mac, requests))
    assert tokens_for(mac, []) == {} and tokens_for(mac, iter(requests[:3])) == reference_tokens_for(
        mac, requests[:3]
    )


def test_tokens_match_on_the_labelled_values() -> None:
    rng = random.Random(7)
    requests = [
        (entity, sample.text[start:end]) for sample in labelled_set() for start, end, entity in sample.spans
    ]
    assert len(requests) > 1000
    for seed in range(3):
        rng.shuffle(requests)
        mac = agent(seed)
        same(tokens_for(mac, requests), reference_tokens_for(mac, requests))
        assert tokens_for(mac, requests[:50]) == {r: token_for(mac, *r) for r in requests[:50]}


@pytest.mark.parametrize(
    "odd",
    [("E", "\ud800"), ("E", "é\udfff"), ("E", "\U0001d7ce\udc00x"), ("\ud800", "v"), ("E", "\udbff" * 70)],
)
def test_a_value_with_a_lone_surrogate_gets_the_references_token(odd: tuple[str, str]) -> None:
    """JSON's "\\ud800" (which any upstream can send) is a value like another: tokenised, not a
    failed call; its bytes are what "surrogatepass" writes, so tokens of other values stay as they were."""
    mac = agent(5)
    requests = [("E", "fine"), odd, ("E", "after")]
    same(tokens_for(mac, requests), reference_tokens_for(mac, requests))
    assert tokens_for(mac, [odd])[odd] == token_for(mac, *odd)
    assert len(set(tokens_for(mac, [("E", "\ud800"), ("E", "\udfff"), ("E", "\ud800x")]).values())) == 3


def test_the_key_does_not_show() -> None:
    mac = agent(6)
    assert mac._key.hex() not in repr(mac) and str(mac._key) not in repr(mac)
