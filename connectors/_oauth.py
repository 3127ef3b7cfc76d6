"""OAuth 2.0 client credentials (RFC 6749 §4.4) and token exchange (RFC 8693): fetch an
access token, cache it until shortly before it expires, and share it between calls.

The token request is built with authlib's primitives and sent through the connector's own
client (so it goes through the same transport, guard and connection pool), bounded in
size and time like any upstream answer. Tokens are cached per token endpoint, client id,
scopes, audience and a fingerprint of the client secret: a new secret means a new token.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
from authlib.oauth2.auth import ClientAuth  # type: ignore[import-untyped]
from authlib.oauth2.rfc6749.parameters import prepare_token_request  # type: ignore[import-untyped]

from connectors.errors import UpstreamBadResponse, UpstreamHTTPError, UpstreamTimeout, UpstreamUnreachable
from connectors.http.io import error_message, excerpt, read_bounded, transport_problem
from connectors.scrub import scrubber

TOKEN_RESPONSE_LIMIT = 64 * 1024
DEFAULT_LIFETIME = 300.0
"""Seconds a token without `expires_in` is trusted (a 401 drops it sooner)."""
MAX_LEEWAY = 60.0
"""A token is renewed this long before it expires, or a tenth of its lifetime if shorter."""
MAX_CACHED = 1000


@dataclass(frozen=True, slots=True)
class TokenRequest:
    """What identifies a client credentials grant; the secret itself is kept only as a fingerprint."""

    connector: str
    token_url: str
    client_id: str
    scopes: tuple[str, ...]
    audience: str | None
    client_auth: str
    timeout: float
    exchange: bool = False
    """RFC 8693: exchange the caller's own access token (the subject token) for one meant for
    this upstream, instead of the client credentials grant."""
    resource: str | None = None

    def cache_key(self, secret: str, subject_token: str | None = None) -> str:
        parts = [self.token_url, self.client_id, " ".join(self.scopes), self.audience or "", self.client_auth]
        digest = hashlib.sha256(
            json.dumps([*parts, self.resource or "", secret, subject_token or ""]).encode()
        )
        return digest.hexdigest()


@dataclass(frozen=True, slots=True)
class _Cached:
    value: str
    renew_at: float


Fetch = Callable[[], Awaitable[tuple[str, float | None]]]


class TokenCache:
    """Access tokens by cache key; concurrent callers of one key share a single fetch."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._tokens: dict[str, _Cached] = {}
        self._pending: dict[str, asyncio.Future[str]] = {}

    async def token(self, key: str, fetch: Fetch) -> str:
        cached = self._tokens.get(key)
        if cached is not None and self._clock() < cached.renew_at:
            return cached.value
        pending = self._pending.get(key)
        if pending is None or pending.get_loop() is not asyncio.get_running_loop():
            pending = asyncio.ensure_future(self._fetch(key, fetch))
            pending.add_done_callback(_retrieve)
            self._pending[key] = pending
        return await asyncio.shield(pending)  # one caller giving up does not cancel the others' fetch

    def drop(self, key: str, value: str) -> None:
        """Forget the token, unless another call has already replaced it."""
        cached = self._tokens.get(key)
        if cached is not None and cached.value == value:
            del self._tokens[key]

    def clear(self) -> None:
        self._tokens.clear()

    async def _fetch(self, key: str, fetch: Fetch) -> str:
        try:
            value, lifetime = await fetch()
        finally:
            self._pending.pop(key, None)
        lifetime = DEFAULT_LIFETIME if lifetime is None else lifetime
        now = self._clock()
        if len(self._tokens) >= MAX_CACHED:
            self._tokens = {k: t for k, t in self._tokens.items() if t.renew_at > now}
        self._tokens[key] = _Cached(value, now + lifetime - min(MAX_LEEWAY, lifetime / 10))
        return value


def _retrieve(future: asyncio.Future[str]) -> None:
    """Mark a failed fetch's exception as seen: its waiters got it, or there were none left."""
    if not future.cancelled():
        future.exception()


TOKENS = TokenCache()
"""The process-wide cache: connectors rebuilt on a catalog reload keep their tokens."""


TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"  # noqa: S105 - a grant type name
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"  # noqa: S105 - a token type name


async def fetch_token(
    client: httpx.AsyncClient, grant: TokenRequest, secret: str, subject_token: str | None = None
) -> tuple[str, float | None]:
    """Ask the token endpoint for an access token; returns it and its lifetime in seconds.

    Raises ConnectorError subclasses whose messages never contain the secret or a token.
    """
    prefix = f"upstream '{grant.connector}': the token endpoint"
    if grant.exchange:
        assert subject_token is not None, "a token exchange needs the caller's token"
        kind = "token exchange"
        body = prepare_token_request(
            TOKEN_EXCHANGE,
            subject_token=subject_token,
            subject_token_type=ACCESS_TOKEN_TYPE,
            requested_token_type=ACCESS_TOKEN_TYPE,
            scope=list(grant.scopes) or None,
            audience=grant.audience,
            resource=grant.resource,
        )
    else:
        kind = "client credentials grant"
        body = prepare_token_request(
            "client_credentials", scope=list(grant.scopes) or None, audience=grant.audience
        )
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}
    url, headers, body = ClientAuth(grant.client_id, secret, grant.client_auth).prepare(
        "POST", grant.token_url, headers, body
    )
    request = httpx.Request("POST", url, headers=headers, content=body.encode())
    scrub = scrubber(
        secret,
        str(headers.get("Authorization", "")).removeprefix("Basic "),
        *([subject_token] if subject_token else []),
    )
    try:
        async with asyncio.timeout(grant.timeout):
            response = await client.send(request, stream=True)
            try:
                raw, truncated = await read_bounded(response, TOKEN_RESPONSE_LIMIT)
            finally:
                await response.aclose()
    except (TimeoutError, httpx.TimeoutException) as exc:
        raise UpstreamTimeout(f"{prefix} did not answer within {grant.timeout:g} s") from exc
    except httpx.TransportError as exc:
        raise UpstreamUnreachable(f"{prefix} is unreachable: {transport_problem(exc, request.url)}") from exc
    status, reason = response.status_code, response.reason_phrase
    if status != 200:
        detail = _oauth_error(raw) or error_message(raw)
        raise UpstreamHTTPError(
            f"{prefix} refused the {kind}: {status} {reason}"
            + (f": {excerpt(detail, scrub)}" if detail else ""),
            status,
        )
    if truncated:
        raise UpstreamBadResponse(f"{prefix} sent an answer larger than {TOKEN_RESPONSE_LIMIT} bytes")
    return _parse(raw, prefix)


def _parse(raw: bytes, prefix: str) -> tuple[str, float | None]:
    try:
        answer: Any = json.loads(raw)
    except (ValueError, RecursionError):
        raise UpstreamBadResponse(f"{prefix} did not answer with JSON") from None
    if not isinstance(answer, dict) or not isinstance(answer.get("access_token"), str):
        raise UpstreamBadResponse(f"{prefix} answered without an access_token")
    token: str = answer["access_token"]
    token_type = answer.get("token_type", "Bearer")
    if not isinstance(token_type, str) or token_type.lower() != "bearer":
        raise UpstreamBadResponse(f"{prefix} issued a {token_type!r} token; only Bearer tokens are supported")
    if not token or any(ch in token for ch in "\r\n\0"):
        raise UpstreamBadResponse(f"{prefix} issued an empty or malformed access token")
    expires_in = answer.get("expires_in")
    if isinstance(expires_in, str) and expires_in.isdigit():  # some servers send it as a string
        expires_in = int(expires_in)
    lifetime = float(expires_in) if isinstance(expires_in, int | float) and expires_in > 0 else None
    return token, lifetime


def _oauth_error(raw: bytes) -> str:
    """RFC 6749 §5.2: `error` and `error_description`, e.g. 'invalid_client: bad secret'."""
    try:
        answer = json.loads(raw)
    except (ValueError, RecursionError):
        return ""
    if not isinstance(answer, dict) or not isinstance(answer.get("error"), str):
        return ""
    parts: Sequence[Any] = [answer["error"], answer.get("error_description")]
    return ": ".join(str(p) for p in parts if isinstance(p, str) and p)
