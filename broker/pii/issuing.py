"""Token issuance: one token per (entity, value) for an agent, confirmed with the vault.

A token is a keyed hash of the value, per agent. The vault claims the ids of a batch at once
(`claim_all`: stores each where free, names those that hold another value; such a token grows
by 4 hex digits and is tried again). Tokens known to be in the vault are remembered for half
their TTL (at most 10 minutes), so a result repeated within that time costs no vault round trip.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Collection

from broker.canonical import KeyedHash
from broker.offload import maybe_in_thread
from broker.pii.nogc import gc_paused
from broker.pii.operators import TOKEN_HEX, agent_mac, token_for
from broker.pii.vault import TokenVault, claim_all

TOKEN_BATCH = 2048
"""Tokens confirmed with the vault per round trip. A 5 MB result may need 25,000: in batches, the
event loop serves other calls between them (and a vault query stays within its parameter limits)."""

TokenRequests = Collection[tuple[str, str]]
"""(entity, value) pairs to tokenise, each once (a set, or a Counter of how often each is written)."""
Proposals = dict[tuple[str, str], str]
"""A first token per (entity, value), as `token_for` makes it."""
_MAX_TOKEN_HEX = 32


class TokenIssuer:
    """Issues the tokens of one masker (one salt, one vault, one token TTL)."""

    def __init__(self, vault: TokenVault, salt: bytes, ttl_seconds: int) -> None:
        self._vault = vault
        self._salt = salt
        self._ttl = ttl_seconds
        self._macs: dict[str, KeyedHash] = {}
        self._issued_ttl = min(ttl_seconds / 2, 600)
        self._issued: dict[tuple[str, str], tuple[str, float]] = {}
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
        now = time.monotonic()
        issued: dict[tuple[str, str], str] = {}
        taken: set[str] = set()
        ordered = await maybe_in_thread(off_loop, sorted, requests)
        for first in range(0, len(ordered), TOKEN_BATCH):
            batch = ordered[first : first + TOKEN_BATCH]
            await self._issue_batch(agent, mac, batch, now, off_loop, issued, taken, proposed)
        return issued

    async def _issue_batch(
        self,
        agent: str,
        mac: KeyedHash,
        batch: list[tuple[str, str]],
        now: float,
        off_loop: bool,
        issued: dict[tuple[str, str], str],
        taken: set[str],
        proposed: Proposals,
    ) -> None:
        pending = dict.fromkeys(batch, TOKEN_HEX)
        while pending:
            unsure = await maybe_in_thread(
                off_loop, self._propose, agent, mac, pending, now, issued, taken, proposed
            )
            stored = {token: request[1] for request, token in unsure}
            held = await claim_all(self._vault, agent, stored, self._ttl) if stored else set()
            for request, token in unsure:
                if token in held:  # the id holds another value: this request tries a longer one
                    del stored[token]
                else:
                    issued[request] = token
                    taken.add(token)
            if len(self._issued) > 200_000:
                self._issued.clear()
            expires = now + self._issued_ttl
            for token, value in stored.items():
                self._issued[agent, token] = (value, expires)
            pending = {request: length + 4 for request, length in pending.items() if request not in issued}
            if any(length > _MAX_TOKEN_HEX for length in pending.values()):
                raise RuntimeError("token space exhausted: the vault holds conflicting values")

    def _propose(
        self,
        agent: str,
        mac: KeyedHash,
        pending: dict[tuple[str, str], int],
        now: float,
        issued: dict[tuple[str, str], str],
        taken: set[str],
        proposed: Proposals,
    ) -> list[tuple[tuple[str, str], str]]:
        """A token for each pending request: those known to be in the vault go to `issued`; the
        others (one per token id) are returned, for the vault to confirm."""
        with gc_paused():
            claimed: set[str] = set()
            unsure: list[tuple[tuple[str, str], str]] = []
            for request, length in pending.items():
                token = proposed.get(request) if length == TOKEN_HEX else None
                if token is None:
                    token = token_for(mac, *request, length)
                known = self._issued.get((agent, token))
                if known is not None and known[0] == request[1] and known[1] > now and token not in taken:
                    issued[request] = token
                    taken.add(token)
                elif token not in claimed and token not in taken:
                    claimed.add(token)
                    unsure.append((request, token))
            return unsure
