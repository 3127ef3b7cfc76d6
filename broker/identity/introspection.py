"""Opaque access tokens, asked about at the issuer's RFC 7662 introspection endpoint."""

from __future__ import annotations

import time
from collections.abc import Collection

import httpx

from broker.errors import InvalidToken
from broker.identity.principal import Principal, scopes_of


class Introspector:
    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        url: str,
        issuer: str,
        client_id: str,
        client_secret: str,
        audiences: Collection[str],
        leeway: int,
    ) -> None:
        self._client = client
        self._url = url
        self._issuer = issuer
        self._auth = httpx.BasicAuth(client_id, client_secret)
        self._audiences = [aud.rstrip("/") for aud in audiences]
        self._leeway = leeway

    async def verify(self, token: str) -> Principal:
        try:
            response = await self._client.post(
                self._url,
                data={"token": token, "token_type_hint": "access_token"},
                auth=self._auth,
                headers={"Accept": "application/json"},
            )
        except httpx.HTTPError as exc:
            raise InvalidToken(f"the token cannot be checked right now ({type(exc).__name__})") from None
        if response.status_code != 200:
            raise InvalidToken(
                f"the token cannot be checked right now (introspection HTTP {response.status_code})"
            )
        try:
            answer = response.json()
        except ValueError:
            raise InvalidToken("the token cannot be checked right now (introspection sent no JSON)") from None
        if not isinstance(answer, dict) or answer.get("active") is not True:
            raise InvalidToken("the access token is not active: expired, revoked or unknown")
        issuer = answer.get("iss", self._issuer)
        if issuer != self._issuer:
            raise InvalidToken(
                "the access token was not issued by an authorization server this gateway trusts"
            )
        exp = answer.get("exp")
        if not isinstance(exp, int | float) or exp + self._leeway < time.time():
            raise InvalidToken("the access token has expired; get a new one")
        nbf = answer.get("nbf")
        if isinstance(nbf, int | float) and nbf - self._leeway > time.time():
            raise InvalidToken("the access token is not valid yet")
        aud = answer.get("aud")
        values = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
        if not any(isinstance(v, str) and v.rstrip("/") in self._audiences for v in values):
            raise InvalidToken("the access token is meant for another audience, not this gateway")
        client_id, subject = answer.get("client_id"), answer.get("sub")
        return Principal(
            issuer=issuer,
            subject=subject if isinstance(subject, str) else None,
            client_id=client_id if isinstance(client_id, str) else None,
            scopes=scopes_of(answer),
            expires_at=float(exp),
            claims=answer,
        )
