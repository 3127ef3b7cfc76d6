"""What a verified access token says: who issued it, for which client, on behalf of whom."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Principal:
    """A verified OAuth access token (a JWT checked against its issuer's keys, or an
    introspection answer). Claims are kept for mapping to an agent and roles; the token is not."""

    issuer: str
    subject: str | None
    client_id: str | None
    scopes: frozenset[str]
    expires_at: float
    claims: Mapping[str, Any] = field(repr=False)

    def claim(self, name: str) -> Any:
        return self.claims.get(name)


def token_digest(token: str) -> str:
    """How caches and logs refer to a token: never the token itself."""
    return hashlib.sha256(token.encode()).hexdigest()


def scopes_of(claims: Mapping[str, Any]) -> frozenset[str]:
    """`scope` (RFC 9068, space-separated) or `scp` (a list, as some IdPs send)."""
    raw = claims.get("scope", claims.get("scp"))
    if isinstance(raw, str):
        return frozenset(raw.split())
    if isinstance(raw, list):
        return frozenset(str(item) for item in raw)
    return frozenset()


def looks_like_jwt(token: str) -> bool:
    return token.count(".") == 2 and token.startswith("ey")
