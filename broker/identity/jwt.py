"""JWT access tokens (RFC 9068) checked against their issuer's published keys (joserfc).

Refused: an issuer not configured, an algorithm outside the asymmetric allow-list (so `none`
and HS256 signed with an RSA public key both fail before any key is used), a key id the
issuer does not publish, a bad signature, a missing or past `exp`, a future `nbf` or `iat`
(beyond the clock skew), and an audience that is not this gateway.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Collection, Mapping
from typing import Any

from joserfc import jwt
from joserfc.errors import ExpiredTokenError, JoseError

from broker.errors import InvalidToken
from broker.identity.discovery import Discovery, DiscoveryError
from broker.identity.principal import Principal, scopes_of

MAX_TOKEN_CHARS = 16 * 1024


class JwtVerifier:
    def __init__(
        self,
        discovery: Discovery,
        *,
        issuers: Collection[str],
        audiences: Collection[str],
        algorithms: Collection[str],
        leeway: int,
    ) -> None:
        self._discovery = discovery
        self._issuers = frozenset(issuers)
        self._audiences = [aud.rstrip("/") for aud in audiences]
        self._algorithms = [alg for alg in algorithms if alg != "none" and not alg.startswith("HS")]
        self._leeway = leeway

    async def verify(self, token: str) -> Principal:
        if len(token) > MAX_TOKEN_CHARS:
            raise InvalidToken("the access token is too long")
        header, unverified = _peek(token)
        alg = header.get("alg")
        if alg not in self._algorithms:
            raise InvalidToken(f"the access token's algorithm {str(alg)[:20]!r} is not accepted")
        issuer = unverified.get("iss")
        if not isinstance(issuer, str) or issuer not in self._issuers:
            raise InvalidToken(
                "the access token was not issued by an authorization server this gateway trusts"
            )
        kid = header.get("kid")
        try:
            keys = await self._discovery.keys(issuer, kid if isinstance(kid, str) else None)
        except DiscoveryError as exc:
            raise InvalidToken(f"the issuer's keys cannot be read right now ({exc})") from None
        try:
            decoded = jwt.decode(token, keys, algorithms=self._algorithms)
        except JoseError as exc:
            raise InvalidToken(f"the access token's signature does not verify ({exc.error})") from None
        claims = decoded.claims
        self._check_claims(claims, issuer)
        client_id = claims.get("client_id", claims.get("azp"))
        subject = claims.get("sub")
        return Principal(
            issuer=issuer,
            subject=subject if isinstance(subject, str) else None,
            client_id=client_id if isinstance(client_id, str) else None,
            scopes=scopes_of(claims),
            expires_at=float(claims["exp"]),
            claims=claims,
        )

    def _check_claims(self, claims: Mapping[str, Any], issuer: str) -> None:
        registry = jwt.JWTClaimsRegistry(
            leeway=self._leeway,
            iss={"essential": True, "value": issuer},
            exp={"essential": True},
        )
        try:
            registry.validate(dict(claims))
        except ExpiredTokenError:
            raise InvalidToken("the access token has expired; get a new one") from None
        except JoseError as exc:
            raise InvalidToken(
                f"the access token's claims are not valid ({exc.error}: {exc.description})"
            ) from None
        iat = claims.get("iat")
        if isinstance(iat, int | float) and iat > time.time() + self._leeway:
            raise InvalidToken("the access token was issued in the future")
        if not _audience_matches(claims.get("aud"), self._audiences):
            raise InvalidToken("the access token is meant for another audience, not this gateway")


def _audience_matches(aud: Any, ours: list[str]) -> bool:
    values = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
    return any(isinstance(value, str) and value.rstrip("/") in ours for value in values)


def _peek(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The header and payload before verification: only to pick the issuer and key."""
    try:
        header_part, payload_part, _ = token.split(".")
        header = json.loads(_b64(header_part))
        payload = json.loads(_b64(payload_part))
    except ValueError:
        raise InvalidToken("the access token is not a well-formed JWT") from None
    if not isinstance(header, dict) or not isinstance(payload, dict):
        raise InvalidToken("the access token is not a well-formed JWT")
    return header, payload


def _b64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
