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
from collections.abc import Collection
from operator import itemgetter

from broker.canonical import KeyedHash
from broker.offload import maybe_in_thread
from broker.pii.nogc import gc_paused
from broker.pii.operators import TOKEN_HEX, AgentMac, agent_mac, token_for, tokens_for
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


def _sorted(requests: TokenRequests) -> list[tuple[str, str]]:
    """`sorted(requests)` (the order decides which of two values proposing one id gets it), in two
    stable passes over str keys: comparing the tuples cost ~3x as much (~33 against ~11 ms for a
    5 MB result's 23,000)."""
    return sorted(sorted(requests, key=itemgetter(1)), key=itemgetter(0))


class TokenIssuer:
    """Issues the tokens of one masker (one salt, one vault, one token TTL)."""

    def __init__(self, vault: TokenVault, salt: bytes, ttl_seconds: int) -> None:
        self._vault = vault
        self._salt = salt
        self._ttl = ttl_seconds
        self._macs: dict[str, AgentMac] = {}
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
        `proposed` holds first tokens (TOKEN_HEX long) already computed with this agent's key:
        a worker process's, which masked the result (see `Masker._mask_elsewhere`). They are
        not computed again (~1.7 µs each, 23,000 in a 5 MB result); the vault still confirms
        each, so a wrong one could only cost a token's stability, never its value.
        """
        async with self._issuing:
            return await self._issue_locked(agent, requests, off_loop, proposed or {})

    async def _issue_locked(
        self, agent: str, requests: TokenRequests, off_loop: bool, proposed: Proposals
    ) -> dict[tuple[str, str], str]:
        mac = self._macs.get(agent)
        if mac is None:
            if len(self._macs) > 10_000:
                self._macs.clear()
            mac = self._macs[agent] = agent_mac(self._salt, agent)
        self._known.age(time.monotonic())
        issued: dict[tuple[str, str], str] = {}
        taken: set[str] = set()
        stored: list[dict[str, str]] = []
        ordered = await maybe_in_thread(off_loop, _sorted, requests)
        if not proposed:  # first tokens in one loop, as a worker process proposes them
            proposed = await maybe_in_thread(off_loop, tokens_for, mac, ordered)
        for first in range(0, len(ordered), TOKEN_BATCH):
            batch = ordered[first : first + TOKEN_BATCH]
            await self._issue_batch(agent, mac, batch, off_loop, issued, taken, stored, proposed)
        # Remembered once every batch is in: a batch never finds an earlier one's tokens in the
        # memo (they are taken), and with `off_loop` the 23,000 inserts of a 5 MB result are
        # made beside the loop, not on it.
        await maybe_in_thread(off_loop, self._known.add, agent, stored)
        return issued

    async def _issue_batch(
        self,
        agent: str,
        mac: KeyedHash,
        batch: list[tuple[str, str]],
        off_loop: bool,
        issued: dict[tuple[str, str], str],
        taken: set[str],
        stored: list[dict[str, str]],
        proposed: Proposals,
    ) -> None:
        """Each request of `batch` issued; the tokens this stored in the vault added to `stored`."""
        pending = dict.fromkeys(batch, TOKEN_HEX)
        while pending:
            before = len(issued)
            asked = await maybe_in_thread(
                off_loop, self._propose, agent, mac, pending, issued, taken, proposed
            )
            held = await claim_all(self._vault, agent, asked, self._ttl) if asked else set()
            if held:  # those ids hold another value: their requests try longer tokens
                for request in pending:
                    token = issued.get(request)
                    if token in held and asked.get(token) == request[1]:  # not one the memo knew
                        del issued[request]
                for token in held:
                    del asked[token]
            taken.update(asked)
            stored.append(asked)
            if len(issued) - before == len(pending):  # each pending request issued: no second round
                return
            pending = {request: length + 4 for request, length in pending.items() if request not in issued}
            if any(length > _MAX_TOKEN_HEX for length in pending.values()):
                raise RuntimeError("token space exhausted: the vault holds conflicting values")

    def _propose(
        self,
        agent: str,
        mac: KeyedHash,
        pending: dict[tuple[str, str], int],
        issued: dict[tuple[str, str], str],
        taken: set[str],
        proposed: Proposals,
    ) -> dict[str, str]:
        """A token for each pending request, in `issued`: one known to be in the vault, or one
        returned (token -> value, one request per token id) for the vault to confirm, which the
        caller takes back from `issued` where the vault refuses it. No object is made per
        request (a tuple each cost a young-generation collection of ~4,000 objects per batch,
        which fell on the event loop)."""
        young, old = self._known.of(agent)
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
