"""Agent keys as MCP bearer tokens."""

from __future__ import annotations

from collections.abc import Callable

from mcp.server.auth.provider import AccessToken

from broker import keys
from broker.catalog import AgentIdentity, Snapshot
from broker.state import key_is_live


class AgentKeyVerifier:
    """Resolves `Authorization: Bearer tbk_...` against the in-memory snapshot (no database hit)."""

    def __init__(self, snapshot: Callable[[], Snapshot]) -> None:
        self._snapshot = snapshot

    async def verify_token(self, token: str) -> AccessToken | None:
        if not keys.looks_like_key(token):
            return None
        entry = self._snapshot().keys.get(keys.hash_key(token))
        if entry is None or not key_is_live(entry):
            return None
        agent = entry.agent
        return AccessToken(
            token=entry.prefix,  # the clear key is not kept past this point
            client_id=agent.name,
            scopes=[],
            subject=agent.id,
            claims={"team": agent.team},
        )


def agent_from_token(token: AccessToken) -> AgentIdentity:
    team = (token.claims or {}).get("team")
    return AgentIdentity(id=token.subject or token.client_id, name=token.client_id, team=team)
