"""Token issuance: one token per (entity, value) for an agent, confirmed with the vault.

A token is a keyed hash of the value, per agent. The vault claims the ids of a batch at once
(`claim_all`: stores each where free, names those that hold another value; such a token grows
by 4 hex digits and is tried again). Tokens known to be in the vault are remembered for a quarter
to a half of their TTL (at most 10 minutes), so a result repeated within that time costs no vault
round trip.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Collection, Sequence
from operator import itemgetter
from typing import NamedTuple

from broker.canonical import KeyedHash
from broker.offload import maybe_in_thread
from broker.pii.nogc import gc_paused
from broker.pii.operators import TOKEN_HEX, AgentMacs, token_for, tokens_for
from broker.pii.vault import TokenVault, claim_all

TOKEN_BATCH = 2048
"""Tokens confirmed with the vault per round trip. A 5 MB result may need 25,000: in batches, the
event loop serves other calls between them (and a vault query stays within its parameter limits)."""

TokenRequests = Collection[tuple[str, str]]
"""(entity, value) pairs to tokenise, each once (a set, or a Counter of how often each is written)."""
Proposals = dict[tuple[str, str], str]
"""A first token per (entity, value), as `token_for` makes it."""
_MAX_TOKEN_HEX = 32
_MAX_KNOWN = 200_000
"""Tokens remembered at most, all agents together (past it the memo starts again empty)."""


class Known:
    """Tokens known to be in the vault: per agent, token -> value, in two generations.

    A generation takes tokens for `lifetime / 2` seconds, is then the older one, and is
    dropped `lifetime` seconds after it began: a token is remembered for between half its
    `lifetime` and all of it, never longer. A batch goes in with one `dict.update` of the
    vault's own `{token: value}`: a memo keyed by (agent, token) with an expiry per token made
    two tuples per token (~13 ms of the event loop for a 5 MB result's 23,000 tokens).
    """

    def __init__(self, lifetime: float) -> None:
        self._lifetime = lifetime
        self._young: dict[str, dict[str, str]] = {}
        self._old: dict[str, dict[str, str]] = {}
        self._young_since = self._old_since = -lifetime
        self._count = 0

    def age(self, now: float) -> None:
        """Start a new generation when the young one is half a lifetime old; drop the old one
        a lifetime after it began."""
        aged = now - self._young_since >= self._lifetime / 2
        if aged:
            self._old, self._old_since = self._young, self._young_since
            self._young, self._young_since = {}, now
        if self._old and now - self._old_since >= self._lifetime:
            self._old, aged = {}, True
        if aged:
            self._count = sum(len(tokens) for tokens in self._old.values())

    def of(self, agent: str) -> tuple[dict[str, str], dict[str, str]]:
        """The agent's tokens in the young generation and in the old one (after `age`)."""
        return self._young.get(agent, {}), self._old.get(agent, {})

    def add(self, agent: str, batches: list[dict[str, str]]) -> None:
        """Tokens now in the vault: each batch's {token: value}."""
        for stored in batches:
            if self._count + len(stored) > _MAX_KNOWN:
                self._young, self._old, self._count = {}, {}, 0
            self._young.setdefault(agent, {}).update(stored)
            self._count += len(stored)


def in_order(requests: TokenRequests) -> list[tuple[str, str]]:
    """`sorted(requests)`: the order tokens are issued in (it decides which of two values proposing
    one id gets it), in two stable passes over str keys: comparing the tuples cost ~3x as much
    (~33 against ~11 ms for a 5 MB result's 23,000)."""
    return sorted(sorted(requests, key=itemgetter(1)), key=itemgetter(0))


Packed = tuple[str, str] | list[str]
"""Strings for another process: joined by a character none of them holds (separator, text), else
the list (where each of the candidates occurs in some)."""
_SEPARATORS = "\x00\n\x01\x02\x03\x04\x05\x06\x07\x1f\ufffe\uffff"


def packed(strings: list[str]) -> Packed:
    """`strings` for a process boundary: one str pickles ~10x faster than a list of 23,000 (a 5 MB
    result's values or tokens: ~0.2 against ~2 ms), and splits back faster than it unpickles."""
    if strings:
        for separator in _SEPARATORS:
            joined = separator.join(strings)
            if joined.count(separator) == len(strings) - 1:
                return separator, joined
    return strings


def unpacked(strings: Packed) -> list[str]:
    """The list `packed` was given."""
    if isinstance(strings, list):
        return strings
    separator, joined = strings
    return joined.split(separator)


class TokenIssuer:
    """Issues the tokens of one masker (one salt, one vault, one token TTL).

    Requests are worked on by position in issuing order (`in_order`): parallel lists of entities,
    values and first tokens in, the issued tokens out as a list. A worker process sends its
    proposals so (see `Masker._mask_elsewhere`): a dict of 23,000 (entity, value) keys cost ~12 ms
    to pickle and unpickle, and the per-request loop it fed ~17 ms of the gateway's CPU, where a
    batch of new tokens is now checked with set operations (~1 ms for 23,000)."""

    def __init__(self, vault: TokenVault, salt: bytes, ttl_seconds: int) -> None:
        self._vault = vault
        self._ttl = ttl_seconds
        self._mac = AgentMacs(salt)
        self._known = Known(min(ttl_seconds / 2, 600))
        self._issuing = asyncio.Lock()

    async def issue(
        self,
        agent: str,
        requests: TokenRequests,
        *,
        off_loop: bool = False,
        proposed: Proposals | None = None,
    ) -> dict[tuple[str, str], str]:
        """A token for each (entity, value), stored in the vault; longer where two values collide.

        Serialised per masker, so two concurrent calls cannot both claim one id for two values.
        With `off_loop` (a large result) the keyed hashes are computed in a worker thread.
        `proposed` holds first tokens (TOKEN_HEX long) already computed with this agent's key; they
        are not computed again. The vault still confirms each, so a wrong one could only cost a
        token's stability, never its value.
        """
        ordered = await maybe_in_thread(off_loop, in_order, requests)
        mac = self._mac(agent)
        if proposed:
            first = [proposed.get(request) or token_for(mac, *request) for request in ordered]
        else:  # first tokens in one loop, as a worker process proposes them
            first = list((await maybe_in_thread(off_loop, tokens_for, mac, ordered)).values())
        entities = [entity for entity, _ in ordered]
        values = [value for _, value in ordered]
        issued = await self.issue_in_order(agent, entities, values, first)
        return dict(zip(ordered, issued, strict=True))

    async def issue_in_order(
        self, agent: str, entities: list[str], values: list[str], proposed: list[str]
    ) -> list[str]:
        """`issue` of the requests (entities[n], values[n]) in issuing order (`in_order`), each with
        its first token proposed[n] (TOKEN_HEX long, `token_for`'s): the issued tokens, position for
        position (the proposed str object itself where it was issued as proposed)."""
        async with self._issuing:
            mac = self._mac(agent)
            self._known.age(time.monotonic())
            issued: list[str | None] = [None] * len(values)
            taken: set[str] = set()
            stored: list[dict[str, str]] = []
            requests = _Requests(entities, values, proposed)
            for first in range(0, len(values), TOKEN_BATCH):
                batch = range(first, min(first + TOKEN_BATCH, len(values)))
                await self._issue_batch(agent, mac, requests, batch, issued, taken, stored)
            # Remembered once every batch is in: a batch never finds an earlier one's tokens in the
            # memo (they are taken).
            self._known.add(agent, stored)
            return issued  # type: ignore[return-value]  # (each position issued: _issue_batch)

    async def _issue_batch(
        self,
        agent: str,
        mac: KeyedHash,
        requests: _Requests,
        batch: range,
        issued: list[str | None],
        taken: set[str],
        stored: list[dict[str, str]],
    ) -> None:
        """Each request of `batch` issued; the tokens this stored in the vault added to `stored`."""
        values = requests.values
        pending: Sequence[int] = batch
        length = TOKEN_HEX
        while True:
            asked = self._propose(agent, mac, requests, pending, length, issued, taken)
            held = await claim_all(self._vault, agent, asked, self._ttl) if asked else set()
            if held:  # those ids hold another value: their requests try longer tokens
                for at in pending:
                    token = issued[at]
                    if token in held and asked.get(token) == values[at]:  # not one the memo knew
                        issued[at] = None
                for token in held:
                    del asked[token]
            taken.update(asked)
            stored.append(asked)
            if isinstance(pending, range) and None not in issued[pending.start : pending.stop]:
                return  # each issued (nearly always): no list of the 2,048 positions to be sure
            pending = [at for at in pending if issued[at] is None]
            if not pending:
                return
            length += 4
            if length > _MAX_TOKEN_HEX:
                raise RuntimeError("token space exhausted: the vault holds conflicting values")

    def _propose(
        self,
        agent: str,
        mac: KeyedHash,
        requests: _Requests,
        pending: Sequence[int],
        length: int,
        issued: list[str | None],
        taken: set[str],
    ) -> dict[str, str]:
        """A token `length` hex long for each pending request, in `issued`: one known to be in the
        vault, or one returned (token -> value, one request per token id) for the vault to
        confirm, which the caller takes back from `issued` where the vault refuses it.

        A batch's first tokens that are all distinct and none taken (nearly always) are issued as
        they are, with set operations in C: those the memo holds with the same value (values seen
        before: a CRM result repeats some phone numbers from call to call) without asking the
        vault, every other one asked for. Else, the loop."""
        young, old = self._known.of(agent)
        values, proposed = requests.values, requests.proposed
        if length == TOKEN_HEX and isinstance(pending, range) and pending.step == 1:
            first = proposed[pending.start : pending.stop]
            asked = dict(zip(first, values[pending.start : pending.stop], strict=True))
            fresh = asked.keys()
            if len(asked) == len(first) and fresh.isdisjoint(taken):
                remembered = fresh & young.keys()
                if old:
                    remembered |= fresh & old.keys()
                for token in remembered:  # as the loop below decides it
                    known = young.get(token)
                    if known is None:
                        known = old.get(token)
                    if known == asked[token]:
                        del asked[token]
                        taken.add(token)
                issued[pending.start : pending.stop] = first
                return asked
        entities = requests.entities
        with gc_paused():
            asked = {}
            for at in pending:
                value = values[at]
                token = proposed[at] if length == TOKEN_HEX else token_for(mac, entities[at], value, length)
                known = young.get(token)
                if known is None:
                    known = old.get(token)
                if known == value and token not in taken:
                    issued[at] = token
                    taken.add(token)
                elif token not in asked and token not in taken:
                    asked[token] = value
                    issued[at] = token
            return asked


class _Requests(NamedTuple):
    """Token requests by position, in issuing order."""

    entities: list[str]
    values: list[str]
    proposed: list[str]
