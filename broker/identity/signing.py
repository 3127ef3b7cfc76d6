"""The gateway's own signature on upstream requests: a short-lived JWT (RFC 7519) naming the
agent, its team, the end user and the tool, for one upstream (`aud`), so an upstream can
refuse calls that did not come through the gateway. The public keys are published at
/.well-known/jwks.json.

The key comes from BROKER_GATEWAY_SIGNING_KEY_FILE (a PEM RSA or EC private key, the same on
every instance); without one each process makes its own at start (fine for one instance:
its JWKS names it). Assertions are memoised for a part of their lifetime, so a busy agent
does not pay for a signature per call.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cachetools import TTLCache
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet, RSAKey

log = logging.getLogger("broker.identity")

LIFETIME_SECONDS = 120
REUSE_SECONDS = 60
"""An assertion is handed out again for this long: upstreams still see at least a minute left."""


class GatewaySigner:
    def __init__(self, issuer: str, key_file: Path | None = None) -> None:
        self.issuer = issuer
        if key_file is not None:
            key: RSAKey | ECKey = _load(key_file.read_bytes())
        else:
            key = RSAKey.generate_key(2048, parameters={"use": "sig"})
            log.info("gateway signing key generated for this process (set BROKER_GATEWAY_SIGNING_KEY_FILE "
                     "so that every instance signs with the same key)")  # fmt: skip
        key.ensure_kid()
        self._key = key
        self._alg = "RS256" if isinstance(key, RSAKey) else "ES256"
        self._memo: TTLCache[tuple[str, ...], str] = TTLCache(maxsize=10_000, ttl=REUSE_SECONDS)

    def jwks(self) -> dict[str, Any]:
        document: dict[str, Any] = dict(KeySet([self._key]).as_dict(private=False, alg=self._alg, use="sig"))
        return document

    def assertion(
        self, audience: str, agent: str, team: str | None, end_user: str | None, target: str
    ) -> str:
        memo_key = (audience, agent, team or "", end_user or "", target)
        found = self._memo.get(memo_key)
        if found is not None:
            return found
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": audience,
            "sub": end_user or agent,
            "agent": agent,
            "tool": target,
            "iat": now,
            "nbf": now - 5,
            "exp": now + LIFETIME_SECONDS,
            "jti": secrets.token_hex(12),
        }
        if team:
            claims["team"] = team
        if end_user:
            claims["end_user"] = end_user
        token = jwt.encode({"alg": self._alg, "kid": self._key.kid, "typ": "JWT"}, claims, self._key)
        self._memo[memo_key] = token
        return token

    def for_request(
        self, agent: str, team: str | None, end_user: str | None, target: str
    ) -> Callable[[str], str]:
        """The signer a connector gets for one call: audience in, assertion out."""
        return lambda audience: self.assertion(audience, agent, team, end_user, target)


def _load(pem: bytes) -> RSAKey | ECKey:
    try:
        return RSAKey.import_key(pem)
    except Exception:
        return ECKey.import_key(pem)
