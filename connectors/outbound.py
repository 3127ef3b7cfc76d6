"""What a corporate network asks of every outbound connection: an HTTPS proxy and a CA bundle.

One process-wide setting, given once at startup (`configure`, from `BROKER_HTTPS_PROXY`,
`BROKER_NO_PROXY` and `BROKER_CA_BUNDLE`), read by every client the gateway opens to an
upstream: the httpx transports of the HTTP, OpenAPI and MCP connectors and of OAuth token
requests (`connectors.netguard`), and the lean HTTP/1.1 client of the model providers
(`connectors.http1`, which also takes a per-provider `proxy`).

- The proxy tunnels `https://` upstreams with HTTP CONNECT (the TLS session, and so the
  certificate check, is end to end with the upstream). `http://` upstreams go direct.
- `no_proxy` lists hosts reached without it, as NO_PROXY does: `example.com` matches the
  host and its subdomains, `.example.com` only subdomains, an IP network (`10.0.0.0/8`)
  its addresses, `*` everything.
- The CA bundle (PEM) is trusted in addition to the public CAs (certifi), for a TLS-
  inspecting proxy or an internal CA.
"""

from __future__ import annotations

import ipaddress
import ssl
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from urllib.parse import urlsplit

import certifi


class OutboundConfigError(ValueError):
    """A proxy URL or CA bundle that cannot be used; the message says which and why."""


def check_proxy_url(url: str) -> str:
    """`url` if it names an http:// proxy with a host (and a port, or 80), else OutboundConfigError."""
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise OutboundConfigError(
            f"proxy {parts.scheme or '?'}://{parts.hostname or '?'} is not usable: write it as "
            "http://HOST:PORT (the proxy is spoken to in plain HTTP; the tunnel inside is TLS)"
        )
    try:
        parts.port  # noqa: B018 (validates the port)
    except ValueError:
        raise OutboundConfigError("the proxy URL has an invalid port") from None
    return url


@dataclass(frozen=True)
class Outbound:
    https_proxy: str | None = field(default=None, repr=False)
    no_proxy: tuple[str, ...] = ()
    ca_bundle: Path | None = None

    def __post_init__(self) -> None:
        if self.https_proxy:
            check_proxy_url(self.https_proxy)
        if self.ca_bundle is not None:
            self.ssl_context()  # fails now, with the path in the message, not on the first call

    def proxy_for(self, scheme: str, host: str, override: str | None = None) -> str | None:
        """The proxy to reach `host` through, or None for a direct connection. A per-client
        `override` ("" for none) takes precedence over the process setting."""
        proxy = override if override is not None else (self.https_proxy if scheme == "https" else None)
        if not proxy or self.bypassed(host):
            return None
        return proxy

    def bypassed(self, host: str) -> bool:
        host = host.strip("[]").lower().rstrip(".")
        for entry in self.no_proxy:
            entry = entry.strip().lower()
            if not entry:
                continue
            if entry == "*":
                return True
            try:
                network = ipaddress.ip_network(entry.strip("[]"), strict=False)
            except ValueError:
                network = None
            if network is not None:
                try:
                    if ipaddress.ip_address(host) in network:
                        return True
                except ValueError:
                    pass
                continue
            name = entry.split(":", 1)[0]
            if name.startswith("."):
                if host.endswith(name):
                    return True
            elif host == name or host.endswith("." + name):
                return True
        return False

    def ssl_context(self) -> ssl.SSLContext:
        """A client TLS context trusting certifi's CAs and the configured bundle."""
        return self._ssl_context

    @cached_property
    def _ssl_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=certifi.where())
        if self.ca_bundle is not None:
            try:
                context.load_verify_locations(cafile=str(self.ca_bundle))
            except (OSError, ssl.SSLError) as exc:
                raise OutboundConfigError(
                    f"BROKER_CA_BUNDLE={self.ca_bundle} cannot be used: {exc}; "
                    "give a PEM file of CA certificates"
                ) from None
        return context


_current = Outbound()


def configure(outbound: Outbound) -> None:
    """Set the process's outbound network settings (at startup, before clients are made)."""
    global _current
    _current = outbound


def current() -> Outbound:
    return _current
