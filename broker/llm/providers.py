"""A provider at run time: one keep-alive connection pool, and the credentials to inject.

The key is resolved once, when the provider is built; it lives only in the header sent
upstream. Nothing of the client's request headers except a short allow-list is forwarded.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

from broker.llm.config import ProviderConfig
from connectors.http1 import Http1Pool, header_problem
from connectors.scrub import scrubber

log = logging.getLogger("broker.llm.providers")

USER_AGENT = "tool-broker-llm-proxy"
ANTHROPIC_VERSION = "2023-06-01"
FORWARDED_HEADERS = {
    "openai": ("openai-beta",),
    "anthropic": ("anthropic-version", "anthropic-beta"),
}
"""Client headers passed upstream, per provider kind; everything else (Authorization first) stays here."""


@dataclass(eq=False)
class Provider:
    config: ProviderConfig
    http: Http1Pool
    headers: dict[str, str]
    """Headers of every upstream request: the injected credentials and the configured extras."""
    missing_secret: str | None = None
    problem: str | None = None
    """Why its calls cannot be sent (a key that cannot go into a header), else None."""
    _key: str | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def kind(self) -> str:
        return self.config.kind

    def path(self, endpoint: str) -> str:
        """The upstream URL path of an endpoint ('chat', 'embeddings', 'messages'). An Anthropic
        provider answers chat completions through its Messages API (translated)."""
        if self.kind == "anthropic":
            return "/v1/messages"
        return {"chat": "/chat/completions", "embeddings": "/embeddings"}[endpoint]

    def request_headers(self, client_headers: Mapping[str, str]) -> dict[str, str]:
        headers = dict(self.headers)
        for name in FORWARDED_HEADERS[self.kind]:
            value = client_headers.get(name)
            if value is not None:
                headers[name] = value
        return headers

    def scrub(self, body: bytes) -> bytes:
        """The body with the provider key blanked out, should an upstream ever echo it."""
        return scrubber(self._key).body(body) if self._key else body

    async def aclose(self) -> None:
        await self.http.aclose()


def build_provider(config: ProviderConfig, key: str | None) -> Provider:
    """A provider with `key` (the resolved `api_key_secret`, None when not set or not needed)."""
    missing: str | None = None
    if config.api_key_secret is not None and key is None:
        missing = config.api_key_secret
        log.warning("provider '%s': secret '%s' is not set; its calls will fail", config.name, missing)
    problem: str | None = None
    if key is not None and header_problem("x", key) is not None:
        problem = f"the secret '{config.api_key_secret}' contains a line break or control character"
        log.warning("provider '%s': %s; its calls will fail", config.name, problem)
        key = None
    headers = {"user-agent": USER_AGENT, **{k.lower(): v for k, v in config.headers.items()}}
    if config.kind == "anthropic":
        headers.setdefault("anthropic-version", ANTHROPIC_VERSION)
    if key is not None:
        header = (
            config.auth_header or ("x-api-key" if config.kind == "anthropic" else "authorization")
        ).lower()
        headers[header] = f"Bearer {key}" if header == "authorization" else key
    http = Http1Pool(
        config.base_url,
        max_connections=config.max_connections,
        connect_timeout=config.connect_timeout_seconds,
        read_timeout=config.timeout_seconds,
        query=config.query,
        proxy=config.proxy,
    )
    return Provider(
        config=config, http=http, headers=headers, missing_secret=missing, problem=problem, _key=key
    )
