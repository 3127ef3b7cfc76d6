"""One answer to "who is this bearer token?" for /mcp and /v1: an agent key (from the
in-memory snapshot, one hash and one lookup) or an OAuth access token (verified once, then
cached) mapped to an agent acting for an end user."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from broker import keys
from broker.catalog import AgentIdentity, Snapshot
from broker.errors import BrokerError, InsufficientScope, InvalidToken
from broker.identity.callers import CallerMap
from broker.identity.challenge import challenge
from broker.identity.verifier import OAuthVerifier
from broker.state import key_is_live


class Authenticator:
    def __init__(
        self,
        snapshot: Callable[[], Snapshot],
        oauth: OAuthVerifier | None,
        callers: CallerMap,
        required_scopes: list[str],
    ) -> None:
        self._snapshot = snapshot
        self.oauth = oauth
        self._callers = callers
        self.required_scopes = required_scopes
        self.metadata: str | None = None
        """The RFC 9728 metadata URL of the gateway as a whole (/v1, /admin), for challenges."""

    def challenge(self, exc: BrokerError) -> str | None:
        """The `WWW-Authenticate` value for a refusal: RFC 9728 / RFC 6750 when OAuth is
        configured (so a client learns where to get a token), plain `Bearer` otherwise; None
        when the refusal is not about the token."""
        scope_problem = isinstance(exc, InsufficientScope)
        if exc.status_code != 401 and not scope_problem:
            return None
        if self.oauth is None or self.metadata is None:
            return "Bearer" if exc.status_code == 401 else None
        error = "insufficient_scope" if scope_problem else "invalid_token"
        scopes = exc.scopes if isinstance(exc, InsufficientScope) else self.required_scopes
        return challenge(self.metadata, scopes, error, exc.message)

    def agent_key(self, token: str) -> AgentIdentity | None:
        """The agent of a live agent key, or None when the token is not one."""
        if not keys.looks_like_key(token):
            return None
        entry = self._snapshot().keys.get(keys.hash_key(token))
        if entry is None or not key_is_live(entry):
            raise InvalidToken("the agent key is not valid: it is unknown, revoked or expired")
        return entry.agent

    async def caller(self, token: str) -> AgentIdentity:
        agent = self.agent_key(token)
        if agent is not None:
            return agent
        if self.oauth is None:
            raise InvalidToken(
                "the bearer token is not a valid agent key (this gateway accepts no OAuth tokens)"
            )
        principal = await self.oauth.verify(token)
        missing = [scope for scope in self.required_scopes if scope not in principal.scopes]
        if missing:
            raise InsufficientScope(
                f"the access token lacks the scope(s) {' '.join(missing)}; ask for them and try again",
                self.required_scopes,
            )
        caller = await self._callers.caller(principal)
        return replace(caller, subject_token=token) if caller.end_user is not None else caller
