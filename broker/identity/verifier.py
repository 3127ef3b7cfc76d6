"""OAuth access tokens to verified principals, with each answer cached by the token's hash.

A JWT is verified once and then served from memory until it expires (the agent-key path
stays as cheap as before; a token costs a hash and a dictionary lookup after its first use).
Opaque tokens go to introspection, cached for their lifetime but no longer than
`introspection_cache_seconds`. Refusals are not cached: a token that failed is re-checked.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
from cachetools import TLRUCache

from broker.errors import InvalidToken
from broker.identity.discovery import Discovery, DiscoveryError
from broker.identity.introspection import Introspector
from broker.identity.jwt import JwtVerifier
from broker.identity.principal import Principal, looks_like_jwt, token_digest
from broker.settings import Settings


class OAuthVerifier:
    def __init__(self, settings: Settings, client: httpx.AsyncClient | None = None) -> None:
        self.settings = settings
        self.issuers = list(settings.oauth_issuers)
        self._client = client or httpx.AsyncClient(timeout=10.0, follow_redirects=False)
        self.discovery = Discovery(
            self._client,
            refresh_seconds=settings.oauth_jwks_refresh_seconds,
            jwks_url=settings.oauth_jwks_url,
        )
        self._jwt = JwtVerifier(
            self.discovery,
            issuers=self.issuers,
            audiences=settings.resolved_audiences,
            algorithms=settings.oauth_algorithms,
            leeway=settings.oauth_clock_skew_seconds,
        )
        self._introspector: Introspector | None = None
        self._cache: TLRUCache[str, Principal] = TLRUCache(
            maxsize=settings.oauth_token_cache_entries, ttu=self._expiry, timer=time.time
        )

    async def verify(self, token: str) -> Principal:
        digest = token_digest(token)
        found = self._cache.get(digest)
        if found is not None:
            return found
        if looks_like_jwt(token):
            principal = await self._jwt.verify(token)
        else:
            principal = await (await self._introspection()).verify(token)
        self._cache[digest] = principal
        return principal

    def forget(self, token: str) -> None:
        self._cache.pop(token_digest(token), None)

    async def aclose(self) -> None:
        await self._client.aclose()

    def _expiry(self, _key: str, principal: Principal, now: float) -> float:
        if "active" in principal.claims:  # an introspection answer
            return min(principal.expires_at, now + self.settings.oauth_introspection_cache_seconds)
        return principal.expires_at

    async def _introspection(self) -> Introspector:
        if self._introspector is not None:
            return self._introspector
        settings = self.settings
        if settings.oauth_client_id is None or settings.oauth_client_secret is None:
            raise InvalidToken(
                "the bearer token is neither an agent key nor a JWT access token, and opaque tokens are not "
                "accepted here (the gateway has no introspection client configured)"
            )
        url = settings.oauth_introspection_url
        if url is None:
            try:
                url = (await self.discovery.metadata(self.issuers[0])).get("introspection_endpoint")
            except DiscoveryError as exc:
                raise InvalidToken(f"the token cannot be checked right now ({exc})") from None
            if not isinstance(url, str):
                raise InvalidToken(
                    "opaque tokens are not accepted: the issuer offers no introspection endpoint"
                )
        self._introspector = Introspector(
            self._client,
            url=url,
            issuer=self.issuers[0],
            client_id=settings.oauth_client_id,
            client_secret=settings.oauth_client_secret.get_secret_value(),
            audiences=settings.resolved_audiences,
            leeway=settings.oauth_clock_skew_seconds,
        )
        return self._introspector


def describe(principal: Principal) -> dict[str, Any]:
    """What an audit trail may say about a principal: never the token."""
    return {"iss": principal.issuer, "sub": principal.subject, "client_id": principal.client_id}
