"""What one call brings to an upstream MCP server: its credentials, from the secret store.

A `Grant` is computed for every call from the secrets the broker resolved for the calling
agent: the auth headers (http) or the secret environment (stdio), the forms of every value
to blank out of text, and a fingerprint of the values. The connector keeps one upstream
session per credential set (`key`, the secret names drawn on) and replaces it when the
fingerprint moves (a rotated secret).

With per-caller auth (`user_oauth`, `token_exchange`, `gateway_jwt`) the slot is the caller's
own: one session per end user (per agent for an agent key with `gateway_jwt`), whose
Authorization header follows that caller's current token. A `gateway_jwt` statement also names
the tool (resource, prompt) it is for, so its session is per caller and target: the header is
read when the request is sent, and one shared session would let two concurrent calls carry
each other's statement. Work that comes with no caller
(registration, background listings) uses a session without credentials.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field

import httpx

from connectors.auth import (
    NO_CREDENTIALS,
    Credentials,
    GatewayJwtAuth,
    HttpAuth,
    TokenExchange,
    UserOAuth,
    fingerprint,
    per_caller,
)
from connectors.base import CallContext
from connectors.mcp.config import McpConnectorConfig
from connectors.netguard import outbound_transport
from connectors.scrub import NO_SCRUB, Scrubber, scrubber


@dataclass(frozen=True, slots=True)
class Grant:
    """The credentials of one call. `key` names the secrets used (which session slot),
    `fingerprint` digests their values (whether that slot's session is still current)."""

    key: tuple[str, ...] = ()
    fingerprint: str = ""
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    env: Mapping[str, str] = field(default_factory=dict, repr=False)
    scrub: Scrubber = field(default=NO_SCRUB, repr=False)
    used: Credentials = field(default=NO_CREDENTIALS, repr=False)


NO_GRANT = Grant()
LISTING_GRANT = Grant(("listing",))
"""A per-caller connector's session for work without a caller: no credentials at all."""


def _brings_caller(config: object, context: CallContext) -> bool:
    if isinstance(config, UserOAuth):
        return context.user_token is not None
    if isinstance(config, TokenExchange):
        return context.subject_token is not None
    return context.assertion is not None


class McpCredentials:
    """Turns a call's `CallContext` into a `Grant` for one connector's config.

    An OAuth token is fetched with HttpAuth through an httpx client of its own, guarded
    like every connector's client unless `allow_private_network`. `per_agent` overrides
    give the agents they name a credential set (and so a session) of their own.
    """

    def __init__(self, config: McpConnectorConfig) -> None:
        self._name = config.name
        self._env = dict(sorted(config.secret_env.items()))
        self._refs = config.secret_refs()
        self._auth = (
            HttpAuth(config.auth, config.name, timeout=config.timeout_seconds) if config.auth else None
        )
        self._client = (
            httpx.AsyncClient(
                transport=outbound_transport(config.allow_private_network),
                timeout=config.timeout_seconds,
                follow_redirects=False,
                trust_env=False,
            )
            if config.auth is not None
            else None
        )
        """For OAuth token requests (HttpAuth wants a client for every auth type)."""

    def secret_refs(self) -> frozenset[str]:
        return self._refs

    async def grant(self, context: CallContext) -> Grant:
        """This call's credentials. Raises MissingCredential, or a ConnectorError from the
        token endpoint."""
        if self._auth is not None:
            config = self._auth.config
            if per_caller(config):
                return await self._caller_grant(context)
            assert not isinstance(config, GatewayJwtAuth | UserOAuth), "per_caller above"
            secret = config.value(context, self._name)
            used = await self._auth.credentials(context, self._token_client())
            name = config.secret_for(context.agent)
            return Grant((name,), fingerprint([secret]), used.headers, {}, used.scrub, used)
        if not self._env:
            return NO_GRANT
        env = {var: ref.value(context, self._name) for var, ref in self._env.items()}
        names = tuple(f"{var}={ref.secret_for(context.agent)}" for var, ref in self._env.items())
        digest = fingerprint(f"{var}={value}" for var, value in env.items())
        return Grant(names, digest, {}, env, scrubber(*env.values()))

    async def _caller_grant(self, context: CallContext) -> Grant:
        assert self._auth is not None
        config = self._auth.config
        if context.agent is None and not _brings_caller(config, context):
            return LISTING_GRANT  # registration or a background listing: no caller to act for
        used = await self._auth.credentials(context, self._token_client())
        who = fingerprint([config.type, context.agent or "", context.end_user or ""])
        if isinstance(config, GatewayJwtAuth):  # the statement names the tool: a session per target,
            who = fingerprint([who, context.target or ""])  # or concurrent calls swap statements
        return Grant((f"caller:{who[:32]}",), who, used.headers, {}, used.scrub, used)

    async def renewed(self, grant: Grant, context: CallContext) -> Grant | None:
        """After the upstream answered 401: a grant with a fresh OAuth token, else None."""
        if self._auth is None or grant.used.token is None:
            return None
        fresh = await self._auth.renewed(grant.used, context, self._token_client())
        if fresh is None:
            return None
        return dataclasses.replace(grant, headers=fresh.headers, scrub=fresh.scrub, used=fresh)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()

    def _token_client(self) -> httpx.AsyncClient:
        assert self._client is not None, "a client exists whenever `auth` does"
        return self._client
