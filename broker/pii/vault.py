"""Reversible tokens: the vault that maps an agent's tokens back to values, and their resolution.

A token looks like `<EMAIL_ADDRESS_7f3a9c21>`: the entity type and 8+ hex characters of an
HMAC keyed per agent, so the same value gives the same token for one agent and different
tokens for different agents. The vault is keyed by (agent, token): a token shown to one
agent never resolves for another, whatever it guesses.

Resolution (`resolve_tokens`) puts real values back into a tool call's arguments. A token
the vault does not know for this agent (unknown, expired, another agent's) is refused with
`UnknownToken` rather than passed on: an upstream must never receive, store or act on a
placeholder it takes for data (a CRM field overwritten with `<EMAIL_ADDRESS_7f3a9c21>`).
"""

from __future__ import annotations

import heapq
import re
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, cast, runtime_checkable

from broker.errors import InvalidArguments

TOKEN = re.compile(r"<([A-Z][A-Z0-9_]{1,39})_([0-9a-f]{8,32})>")
"""Any token in text; group 1 is the entity type."""


@runtime_checkable
class TokenVault(Protocol):
    """Where token values live. Implementations must keep values confidential at rest
    (the broker's database backend encrypts them) and must scope every lookup by agent.

    The masker checks with `get` that an id is free (or holds the same value) before `put`,
    one call at a time per masker, unless the vault claims ids itself (`ClaimingTokenVault`). A
    vault shared by several gateway instances should also refuse to overwrite a different value
    (Redis `SET NX` then `EXPIRE` when equal; SQL `INSERT ... ON CONFLICT DO NOTHING`), so
    concurrent instances cannot swap a token's value.
    """

    async def put(self, agent: str, token: str, value: str, ttl: float) -> None:
        """Store (or refresh) `token` -> `value` for `agent`, expiring `ttl` seconds from now."""
        ...

    async def get(self, agent: str, token: str) -> str | None:
        """The value of `token` for `agent`, or None when unknown, expired or not this agent's."""
        ...


@runtime_checkable
class BatchTokenVault(TokenVault, Protocol):
    """A vault that also reads and writes many tokens in one round trip (Redis MGET/pipeline, one SQL
    statement). The masker uses these when present; otherwise it awaits `get`/`put` one by one."""

    async def get_many(self, agent: str, tokens: Sequence[str]) -> list[str | None]: ...

    async def put_many(self, agent: str, items: Mapping[str, str], ttl: float) -> None: ...


@runtime_checkable
class ClaimingTokenVault(BatchTokenVault, Protocol):
    """A vault that checks and stores many tokens at once (one statement, one script)."""

    async def claim_many(self, agent: str, items: Mapping[str, str], ttl: float) -> set[str]:
        """Store each token's value where its id is free (or expired) and extend it where the id
        holds the same value; returns the tokens whose id holds another value, left as they are.
        A stored value that no configured key opens counts as free (taken over)."""
        ...


class MemoryVault:
    """An in-process vault with expiry, for one gateway instance and for tests.

    Bounded: past `max_entries` the entries closest to expiry are dropped first.
    """

    def __init__(self, max_entries: int = 1_000_000, clock: Callable[[], float] = time.monotonic) -> None:
        self._values: dict[tuple[str, str], tuple[str, float]] = {}
        self._expiries: list[tuple[float, str, str]] = []
        self._max_entries = max_entries
        self._clock = clock

    async def put(self, agent: str, token: str, value: str, ttl: float) -> None:
        self._put(agent, token, value, ttl)
        self._evict()

    async def get_many(self, agent: str, tokens: Sequence[str]) -> list[str | None]:
        return [self._get(agent, token) for token in tokens]

    async def put_many(self, agent: str, items: Mapping[str, str], ttl: float) -> None:
        expires = self._clock() + ttl
        for token, value in items.items():
            self._values[agent, token] = (value, expires)
            heapq.heappush(self._expiries, (expires, agent, token))
        self._evict()

    async def get(self, agent: str, token: str) -> str | None:
        return self._get(agent, token)

    def _put(self, agent: str, token: str, value: str, ttl: float) -> None:
        expires = self._clock() + ttl
        self._values[agent, token] = (value, expires)
        heapq.heappush(self._expiries, (expires, agent, token))

    def _get(self, agent: str, token: str) -> str | None:
        entry = self._values.get((agent, token))
        if entry is None:
            return None
        value, expires = entry
        if expires <= self._clock():
            del self._values[agent, token]
            return None
        return value

    def __len__(self) -> int:
        return len(self._values)

    def _evict(self) -> None:
        now = self._clock()
        while self._expiries and (self._expiries[0][0] <= now or len(self._values) > self._max_entries):
            expires, agent, token = heapq.heappop(self._expiries)
            entry = self._values.get((agent, token))
            if entry is not None and entry[1] == expires:  # not refreshed since
                del self._values[agent, token]
        if len(self._expiries) > 2 * len(self._values) + 1024:  # drop stale heap entries of refreshed tokens
            self._expiries = [
                (e, a, t) for e, a, t in self._expiries if self._values.get((a, t), ("", -1.0))[1] == e
            ]
            heapq.heapify(self._expiries)


class UnknownToken(InvalidArguments):
    """Arguments hold tokens this agent cannot resolve: unknown, expired, or another agent's."""

    outcome = "unknown_token"

    def __init__(self, tokens: list[str]) -> None:
        shown = ", ".join(tokens[:5]) + (" ..." if len(tokens) > 5 else "")
        super().__init__(
            f"the arguments hold PII token(s) that cannot be resolved for you: {shown}. Tokens expire and "
            "belong to the agent they were shown to; fetch the record again to get a current token."
        )
        self.tokens = tokens


async def resolve_tokens(agent: str, arguments: Any, vault: TokenVault) -> Any:
    """`arguments` with every token of `agent` in a string value (at any depth) replaced by its value.

    Keys are left alone. Raises `UnknownToken` naming the tokens the vault does not know for
    this agent. Returns the input itself when it holds no token.
    """
    found: set[str] = set()
    _collect(arguments, found)
    if not found:
        return arguments
    ordered = sorted(found)
    values = await get_all(vault, agent, ordered)
    unknown = [token for token, value in zip(ordered, values, strict=True) if value is None]
    if unknown:
        raise UnknownToken(unknown)
    mapping = {token: value for token, value in zip(ordered, values, strict=True) if value is not None}
    return _replace(arguments, mapping)


async def get_all(vault: TokenVault, agent: str, tokens: Sequence[str]) -> list[str | None]:
    """Values of many tokens: one batch when the vault can, else one awaited `get` after another."""
    if _batches(vault):
        return await cast(BatchTokenVault, vault).get_many(agent, tokens)
    return [await vault.get(agent, token) for token in tokens]


async def put_all(vault: TokenVault, agent: str, items: Mapping[str, str], ttl: float) -> None:
    if _batches(vault):
        await cast(BatchTokenVault, vault).put_many(agent, items, ttl)
    else:
        for token, value in items.items():
            await vault.put(agent, token, value, ttl)


async def claim_all(vault: TokenVault, agent: str, items: Mapping[str, str], ttl: float) -> set[str]:
    """`ClaimingTokenVault.claim_many`, or the same with `get_all` then `put_all` of the free ids."""
    if _claims(vault):
        return await cast(ClaimingTokenVault, vault).claim_many(agent, items, ttl)
    return await claim_by_lookup(vault, agent, items, ttl)


async def claim_by_lookup(vault: TokenVault, agent: str, items: Mapping[str, str], ttl: float) -> set[str]:
    """A claim as `get_all` then `put_all` of the free ids; the ids that hold another value."""
    held = await get_all(vault, agent, list(items))
    pairs = zip(items.items(), held, strict=True)
    taken = {token for (token, value), existing in pairs if existing is not None and existing != value}
    free = {token: value for token, value in items.items() if token not in taken} if taken else items
    if free:
        await put_all(vault, agent, free, ttl)
    return taken


_BATCHES: dict[type, tuple[bool, bool]] = {}


def _batches(vault: TokenVault) -> bool:
    """`isinstance(vault, BatchTokenVault)`, once per class (a protocol check costs µs a call)."""
    return _kind(vault)[0]


def _claims(vault: TokenVault) -> bool:
    return _kind(vault)[1]


def _kind(vault: TokenVault) -> tuple[bool, bool]:
    kind = type(vault)
    verdict = _BATCHES.get(kind)
    if verdict is None:
        verdict = _BATCHES[kind] = (isinstance(vault, BatchTokenVault), isinstance(vault, ClaimingTokenVault))
    return verdict


def _collect(value: Any, found: set[str]) -> None:
    if isinstance(value, str):
        if "<" in value:
            found.update(match.group() for match in TOKEN.finditer(value))
    elif isinstance(value, dict):
        for item in value.values():
            _collect(item, found)
    elif isinstance(value, list | tuple):
        for item in value:
            _collect(item, found)


def _replace(value: Any, mapping: dict[str, str]) -> Any:
    if isinstance(value, str):
        if "<" not in value:
            return value
        return TOKEN.sub(lambda m: mapping.get(m.group(), m.group()), value)
    if isinstance(value, dict):
        return {key: _replace(item, mapping) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_replace(item, mapping) for item in value]
    return value
