"""`TokenIssuer` by position against the issuer it replaced (by (entity, value) keys, kept here as
the reference): the same tokens, the same vault rows, the same memo, on requests made to collide
(ids held in the vault by other values, ids the memo knows, two values proposing one id, batches
of a few requests so that ids are taken by earlier batches)."""

from __future__ import annotations

import random
import time
from typing import Any

import pytest

from broker.pii import issuing, offloaded
from broker.pii.issuing import Known, TokenIssuer, in_order
from broker.pii.nogc import gc_paused
from broker.pii.operators import TOKEN_HEX, agent_mac, token_for
from broker.pii.vault import MemoryVault, claim_all

SALT = b"issuing-test-salt-16+"


async def reference_issue(
    issuer: TokenIssuer, agent: str, requests: Any, proposed: dict[tuple[str, str], str]
) -> dict[tuple[str, str], str]:
    """The issuer before issuing by position (its `_issue_locked`, `_issue_batch`, `_propose`)."""
    mac = issuer._mac(agent)
    issuer._known.age(time.monotonic())
    issued: dict[tuple[str, str], str] = {}
    taken: set[str] = set()
    stored: list[dict[str, str]] = []
    ordered = in_order(requests)
    for first in range(0, len(ordered), issuing.TOKEN_BATCH):
        batch = ordered[first : first + issuing.TOKEN_BATCH]
        pending = dict.fromkeys(batch, TOKEN_HEX)
        while pending:
            before = len(issued)
            asked = _reference_propose(issuer, agent, mac, pending, issued, taken, proposed)
            held = await claim_all(issuer._vault, agent, asked, issuer._ttl) if asked else set()
            if held:
                for request in pending:
                    token = issued.get(request)
                    if token in held and asked.get(token) == request[1]:
                        del issued[request]
                for token in held:
                    del asked[token]
            taken.update(asked)
            stored.append(asked)
            if len(issued) - before == len(pending):
                break
            pending = {request: length + 4 for request, length in pending.items() if request not in issued}
            if any(length > 32 for length in pending.values()):
                raise RuntimeError("token space exhausted: the vault holds conflicting values")
    issuer._known.add(agent, stored)
    return issued


def _reference_propose(
    issuer: TokenIssuer,
    agent: str,
    mac: Any,
    pending: dict[tuple[str, str], int],
    issued: dict[tuple[str, str], str],
    taken: set[str],
    proposed: dict[tuple[str, str], str],
) -> dict[str, str]:
    young, old = issuer._known.of(agent)
    with gc_paused():
        asked: dict[str, str] = {}
        for request, length in pending.items():
            token = proposed.get(request) if length == TOKEN_HEX else None
            if token is None:
                token = token_for(mac, *request, length)
            known = young.get(token)
            if known is None:
                known = old.get(token)
            if known == request[1] and token not in taken:
                issued[request] = token
                taken.add(token)
            elif token not in asked and token not in taken:
                asked[token] = request[1]
                issued[request] = token
        return asked


Case = tuple[
    list[tuple[str, str]], dict[tuple[str, str], str], dict[str, str], dict[str, str], dict[str, str]
]


def _case(seed: int) -> Case:
    """Requests, their first tokens (some shared by two values), ids the vault holds for other
    values and ids the memo knows in its young and its old generation (for the requested value
    or another; some in both, for different values)."""
    rng = random.Random(seed)
    mac = agent_mac(SALT, "a")
    entities = ["EMAIL_ADDRESS", "PHONE_NUMBER", "X"]
    values = ["", "\x00", "é", "日本", "\U0001f600", "a\nb", *(f"v{n}" for n in range(40))]
    requests = list({(rng.choice(entities), rng.choice(values)) for _ in range(rng.randint(0, 60))})
    proposed = {request: token_for(mac, *request) for request in requests}
    for request in rng.sample(requests, len(requests) // 6):  # two values proposing one id
        proposed[request] = proposed[rng.choice(requests)]
    held: dict[str, str] = {}
    known: dict[str, str] = {}
    older: dict[str, str] = {}
    for request in requests:
        roll = rng.random()
        token = proposed[request]
        if roll < 0.15:
            held[token] = "someone else"
            if rng.random() < 0.5:  # the longer one too
                held[token_for(mac, *request, TOKEN_HEX + 4)] = "someone else"
        elif roll < 0.3:
            known[token] = request[1] if rng.random() < 0.7 else "another"
        elif roll < 0.4:
            older[token] = request[1] if rng.random() < 0.7 else "another"
            if rng.random() < 0.3:  # the young generation's value decides
                known[token] = rng.choice([request[1], "another"])
        elif roll < 0.45:
            held[token] = request[1]  # already the vault's, not in the memo
    return requests, proposed, held, known, older


async def _issuer(
    held: dict[str, str], known: dict[str, str], older: dict[str, str]
) -> tuple[TokenIssuer, MemoryVault]:
    vault = MemoryVault(clock=lambda: 0.0)
    if held:
        await vault.put_many("a", held, 3600)
    issuer = TokenIssuer(vault, SALT, 3600)
    now = time.monotonic()
    issuer._known.age(now)
    issuer._known.add("a", [dict(known)])
    if older:  # the generation before, begun half a lifetime ago
        issuer._known._old, issuer._known._old_since = {"a": dict(older)}, now - issuer._known._lifetime / 2
    return issuer, vault


@pytest.mark.parametrize("batch", [1, 3, 7, 2048])
async def test_issuing_by_position_issues_what_the_reference_did(
    batch: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(issuing, "TOKEN_BATCH", batch)
    for seed in range(60):
        requests, proposed, held, known, older = _case(seed)
        mine, my_vault = await _issuer(held, known, older)
        theirs, their_vault = await _issuer(held, known, older)
        ordered = in_order(requests)
        first = [proposed[request] for request in ordered]
        got = await mine.issue_in_order(
            "a", [entity for entity, _ in ordered], [value for _, value in ordered], first
        )
        expected = await reference_issue(theirs, "a", requests, proposed)
        assert dict(zip(ordered, got, strict=True)) == expected, seed
        assert my_vault._values == their_vault._values, seed
        assert mine._known.of("a") == theirs._known.of("a"), seed
        assert all(token is first[at] for at, token in enumerate(got) if token == first[at])
        again, _ = await _issuer(held, known, older)  # `issue` with a dict of proposals: the same
        assert await again.issue("a", set(requests), proposed=proposed) == expected, seed


async def test_issue_without_proposals_makes_the_first_tokens() -> None:
    issuer, _ = await _issuer({}, {}, {})
    requests = {("EMAIL_ADDRESS", "ann@example.com"), ("PHONE_NUMBER", "+1 415 555 0143")}
    mac = agent_mac(SALT, "a")
    assert await issuer.issue("a", requests) == {request: token_for(mac, *request) for request in requests}


def test_the_memo_takes_batches() -> None:
    known = Known(100.0)
    known.age(0.0)
    known.add("a", [{"<T_1>": "one"}, {"<T_2>": "two"}])
    assert known.of("a") == ({"<T_1>": "one", "<T_2>": "two"}, {})


def _reference_retokened(
    text: str, proposed: list[str], issued: list[str], repeated: dict[str, int]
) -> str | None:
    """`offloaded.retokened` before it split and joined: a count, a search and a replace a token."""
    changed = [(old, new) for old, new in zip(proposed, issued, strict=True) if old != new]
    if len(changed) > offloaded.MAX_RETOKENED:
        return None
    olds = {old for old, _ in changed}
    if len(olds) != len(changed) or sum(token in olds for token in proposed) != len(olds):
        return None
    for old, new in changed:
        if text.count(old) != repeated.get(old, 1) or new in text:
            return None
        text = text.replace(old, new)
    return text


def test_retokened_writes_what_the_reference_wrote_or_leaves_it_to_the_worker() -> None:
    """Never a different text: where both write, the same; where the reference would not, neither
    does it (it may decline more: the worker then masks the text again, as exactly)."""
    rng = random.Random(7)
    wrote = 0
    for _ in range(3000):
        proposed = [f"<E_{rng.randrange(6):08x}>" for _ in range(rng.randint(1, 8))]
        issued = [
            token[:-1] + rng.choice(["1234>", "abcd>"]) if rng.random() < 0.3 else token for token in proposed
        ]
        pieces = [*proposed, *issued, "<E_0000000", ">", "x", "<E_00000001x", "1234>", '","']
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 12)))
        repeated = {token: rng.randint(2, 3) for token in proposed if rng.random() < 0.3}
        copies = [(token + ".")[:-1] for token in issued]  # equal, not the same objects
        mine = offloaded.retokened(text, proposed, copies, repeated)
        theirs = _reference_retokened(text, proposed, issued, repeated)
        assert mine is None or mine == theirs, (text, proposed, issued, repeated)
        if theirs is not None and any(old != new for old, new in zip(proposed, issued, strict=True)):
            wrote += mine is not None
    assert wrote > 50


@pytest.mark.parametrize(
    "strings",
    [
        [],
        [""],
        ["", ""],
        ["a\x00b", "c"],  # the first separator in a value: the next one
        ["\x00\n", "x"],
        ["é", "日本", "\U0001f600", "\ud800", "a\nb"],
        ["".join(issuing._SEPARATORS), "y"],  # every separator in one: the list itself
        [f"v{n}" for n in range(5000)],
    ],
)
def test_packed_strings_unpack_as_they_were(strings: list[str]) -> None:
    packed = issuing.packed(list(strings))
    assert issuing.unpacked(packed) == strings
    assert isinstance(packed, list) == (strings == [] or "".join(issuing._SEPARATORS) in strings)
