"""Who is calling: a verified token's claims mapped to an agent (the client application),
its team, and the end user it acts for."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Awaitable, Callable
from typing import Any

from broker.catalog import AgentIdentity, Snapshot
from broker.errors import Forbidden, InvalidToken
from broker.identity.principal import Principal

Provision = Callable[[str, Principal], Awaitable[None]]
"""Creates a default-deny agent of this name for an unknown client (the operator allowed it)."""

_UNSAFE = re.compile(r"[^a-z0-9_.-]+")


def agent_name(client: str) -> str:
    """The agent name for a client id: the id itself when it is a valid agent name, else a
    readable slug with a short digest (client ids may be URLs or UUIDs in upper case)."""
    slug = _UNSAFE.sub("-", client.lower()).strip("-._")
    if slug == client and 0 < len(slug) <= 63:
        return slug
    digest = hashlib.sha256(client.encode()).hexdigest()[:8]
    return f"{slug[:54] or 'client'}-{digest}"


class CallerMap:
    def __init__(
        self,
        snapshot: Callable[[], Snapshot],
        *,
        agent_claim: str = "client_id",
        user_claim: str = "sub",
        team_claim: str | None = None,
        provision: Provision | None = None,
    ) -> None:
        self._snapshot = snapshot
        self._agent_claim = agent_claim
        self._user_claim = user_claim
        self._team_claim = team_claim
        self._provision = provision

    async def caller(self, principal: Principal) -> AgentIdentity:
        client = (
            _text(principal.claim(self._agent_claim)) or _text(principal.claim("azp")) or principal.client_id
        )
        if client is None:
            raise InvalidToken(
                f"the access token names no client ('{self._agent_claim}' claim); the gateway cannot tell "
                "which agent is calling"
            )
        name = agent_name(client)
        agent = self._snapshot().agents.get(name)
        if agent is None and self._provision is not None:
            await self._provision(name, principal)
            agent = self._snapshot().agents.get(name)
        if agent is None:
            raise Forbidden(
                f"client '{client[:100]}' is not registered as an agent of this gateway; an operator can "
                f"register it with `broker agents create {name}`"
            )
        user = _text(principal.claim(self._user_claim))
        team = self._team(principal) or agent.team
        return AgentIdentity(agent.id, agent.name, team, end_user=user if user != client else None)

    def _team(self, principal: Principal) -> str | None:
        if self._team_claim is None:
            return None
        value = principal.claim(self._team_claim)
        if isinstance(value, list):
            value = next((item for item in value if isinstance(item, str) and item), None)
        team = _text(value)
        if team is None:
            return None
        return _UNSAFE.sub("-", team.lower()).strip("-")[:63] or None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
