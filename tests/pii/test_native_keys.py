"""The native row keys of the SQL token vault (broker/pii/native/src/keys.rs) are its Python
reference's (broker/pii/sql_keys.py): BLAKE2b through hashlib, over any text."""

from __future__ import annotations

import hashlib
import random
import uuid

import pytest

from broker.pii.operators import agent_mac, token_for
from broker.pii.sql_keys import PERSON, reference_key_order, reference_keys
from tests.pii.labelled import labelled_set

_native = pytest.importorskip(
    "broker.pii._native", reason="broker.pii._native is not built (no Rust toolchain or crates): make native"
)

# Token and agent characters, and others: NUL, newlines, 2-, 3- and 4-byte UTF-8.
PIECES = [
    *"<>_0123456789abcdefABCDEFXYZ-:\x00\n ",
    "é",
    "€",
    "\u0661",
    "\U0001d7ce",
    "EMAIL_ADDRESS",
    "PHONE_NUMBER",
]


def generated(seed: int, count: int) -> tuple[list[str], list[str]]:
    rng = random.Random(seed)

    def text() -> str:
        # lengths on both sides of BLAKE2b's 128-byte block, once the two are put together
        return "".join(rng.choice(PIECES) for _ in range(rng.choice([0, 1, 8, 30, 60, 63, 64, 65, 127, 200])))

    return [text() for _ in range(count)], [text() for _ in range(count)]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_token_keys_match_the_reference_on_generated_pairs(seed: int) -> None:
    agents, tokens = generated(seed, 20_000)
    assert _native.token_keys(agents, tokens) == reference_keys(agents, tokens)


@pytest.mark.parametrize("seed", [1, 2])
def test_token_key_order_matches_the_reference_ties_included(seed: int) -> None:
    agents, tokens = generated(seed, 20_000)
    agents += agents[:500]  # the same pairs again: equal keys keep the order they came in
    tokens += tokens[:500]
    keys, order = _native.token_key_order(agents, tokens)
    assert (keys, order) == reference_key_order(agents, tokens)
    assert keys == sorted(keys) and sorted(order) == list(range(len(agents)))
    assert _native.token_key_order([], []) == ([], [])


def test_token_keys_match_around_block_boundaries() -> None:
    pairs = [
        ("a" * agent, "t" * token)
        for agent in (0, 1, 126, 127, 128, 129, 255, 256)
        for token in range(0, 260)
    ]
    agents, tokens = [agent for agent, _ in pairs], [token for _, token in pairs]
    assert _native.token_keys(agents, tokens) == reference_keys(agents, tokens)


def test_token_keys_match_on_realistic_tokens() -> None:
    """Tokens as the maskers issue them for the labelled set's values, 8 to 32 hex digits long,
    under UUID agent ids (and the bench's kind)."""
    rng = random.Random(7)
    agents: list[str] = []
    tokens: list[str] = []
    for sample in labelled_set():
        agent = str(uuid.UUID(int=rng.getrandbits(128))) if rng.random() < 0.8 else "bench-vault-1a2b3c4d"
        mac = agent_mac(b"a-salt", agent)
        for start, end, entity in sample.spans:
            agents.append(agent)
            tokens.append(token_for(mac, entity, sample.text[start:end], rng.choice([8, 9, 16, 32])))
    assert len(tokens) > 1000
    assert _native.token_keys(agents, tokens) == reference_keys(agents, tokens)


def test_the_reference_is_blake2b_and_keys_are_signed_64_bit() -> None:
    digest = hashlib.blake2b(b"agent-1\x00<EMAIL_ADDRESS_0000aaaa>", digest_size=8, person=PERSON).digest()
    assert reference_keys(["agent-1"], ["<EMAIL_ADDRESS_0000aaaa>"]) == [
        int.from_bytes(digest, "little", signed=True)
    ]
    agents, tokens = generated(4, 5_000)
    keys = _native.token_keys(agents, tokens)
    assert all(-(2**63) <= key < 2**63 for key in keys) and min(keys) < 0 < max(keys)


def test_token_keys_refuse_what_the_reference_refuses() -> None:
    with pytest.raises(ValueError, match="as many agents as tokens"):
        _native.token_keys(["agent-1"], [])
    with pytest.raises(ValueError, match="as many agents as tokens"):
        reference_keys(["agent-1"], [])
    with pytest.raises(ValueError, match="as many agents as tokens"):
        _native.token_key_order(["agent-1"], [])
    with pytest.raises(UnicodeEncodeError):
        _native.token_keys(["agent-1"], ["\ud800"])  # a lone surrogate has no UTF-8
    with pytest.raises(UnicodeEncodeError):
        reference_keys(["agent-1"], ["\ud800"])
