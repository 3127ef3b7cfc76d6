"""Authorization server metadata (RFC 8414, OpenID discovery) and JWKS, fetched over HTTP.

Each issuer's metadata is read once; its key set is refetched when a token names a key id
it does not hold, at most once per `refresh_seconds` (an attacker sending unknown kids must
not turn the gateway into a load generator against the identity provider).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

log = logging.getLogger("broker.identity")

MAX_DOCUMENT_BYTES = 512 * 1024


class DiscoveryError(Exception):
    """The issuer's metadata or keys could not be fetched or understood."""


def metadata_urls(issuer: str) -> list[str]:
    """RFC 8414 §3.1 (path inserted after the well-known prefix), then OpenID discovery (appended)."""
    parts = urlsplit(issuer)
    path = parts.path.rstrip("/")
    rfc8414 = urlunsplit(
        (parts.scheme, parts.netloc, f"/.well-known/oauth-authorization-server{path}", "", "")
    )
    oidc = issuer.rstrip("/") + "/.well-known/openid-configuration"
    return [rfc8414, oidc]


@dataclass
class _Issuer:
    metadata: dict[str, Any] | None = None
    keys: KeySet | None = None
    fetched_at: float = float("-inf")
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class Discovery:
    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        refresh_seconds: float,
        jwks_url: str | None = None,
    ) -> None:
        self._client = client
        self._refresh_seconds = refresh_seconds
        self._jwks_url = jwks_url
        self._issuers: dict[str, _Issuer] = {}

    async def metadata(self, issuer: str) -> dict[str, Any]:
        entry = self._issuers.setdefault(issuer, _Issuer())
        if entry.metadata is None:
            async with entry.lock:
                if entry.metadata is None:
                    entry.metadata = await self._discover(issuer)
        return entry.metadata

    async def keys(self, issuer: str, kid: str | None) -> KeySet:
        """The issuer's key set, refetched (rate-limited) when `kid` is not in it."""
        entry = self._issuers.setdefault(issuer, _Issuer())
        if entry.keys is not None and _holds(entry.keys, kid):
            return entry.keys
        async with entry.lock:
            if entry.keys is not None and _holds(entry.keys, kid):
                return entry.keys
            if entry.keys is None or time.monotonic() - entry.fetched_at >= self._refresh_seconds:
                url = self._jwks_url
                if url is None:
                    if entry.metadata is None:
                        entry.metadata = await self._discover(issuer)
                    url = entry.metadata.get("jwks_uri")
                if not isinstance(url, str):
                    raise DiscoveryError(f"issuer {issuer} publishes no jwks_uri")
                entry.fetched_at = time.monotonic()
                entry.keys = _key_set(await self._get_json(url))
        return entry.keys

    async def _discover(self, issuer: str) -> dict[str, Any]:
        problems = []
        for url in metadata_urls(issuer):
            try:
                document = await self._get_json(url)
            except DiscoveryError as exc:
                problems.append(str(exc))
                continue
            if document.get("issuer") != issuer:
                problems.append(f"{url} names issuer {document.get('issuer')!r}, not {issuer!r}")
                continue
            return document
        raise DiscoveryError("; ".join(problems))

    async def _get_json(self, url: str) -> dict[str, Any]:
        try:
            async with self._client.stream("GET", url, headers={"Accept": "application/json"}) as response:
                if response.status_code != 200:
                    raise DiscoveryError(f"{url} answered HTTP {response.status_code}")
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > MAX_DOCUMENT_BYTES:
                        raise DiscoveryError(f"{url} sent more than {MAX_DOCUMENT_BYTES} bytes")
        except httpx.HTTPError as exc:
            raise DiscoveryError(f"{url}: {type(exc).__name__}") from None
        try:
            document = json.loads(body)
        except ValueError:
            raise DiscoveryError(f"{url} did not send JSON") from None
        if not isinstance(document, dict):
            raise DiscoveryError(f"{url} did not send a JSON object")
        return document


def _holds(keys: KeySet, kid: str | None) -> bool:
    if kid is None:
        return True
    return any(key.kid == kid for key in keys)


def _key_set(document: dict[str, Any]) -> KeySet:
    keys = document.get("keys")
    if not isinstance(keys, list):
        raise DiscoveryError("the JWKS document has no 'keys' list")
    public = [key for key in keys if isinstance(key, dict) and key.get("kty") != "oct"]
    try:
        return KeySet.import_key_set({"keys": public})
    except (JoseError, ValueError, TypeError) as exc:
        raise DiscoveryError(f"the JWKS document cannot be used: {exc}") from None
