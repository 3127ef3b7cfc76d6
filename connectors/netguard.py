"""Outbound safety: connectors may reach only public addresses unless told otherwise.

A URL is judged by where it really goes, not by how it is spelled: the host is resolved,
every address it resolves to is checked (IPv4-mapped, 6to4, Teredo and NAT64 forms are
unwrapped to the IPv4 address inside), and the request is then sent to the checked
address itself, so a second DNS answer cannot swap in another one (DNS rebinding). Odd
spellings such as `127.1`, `0x7f000001` or `2130706433` go through the same resolver and
end up checked as 127.0.0.1. Each hop of a redirect is a new request through the same
transport, so it is checked again.

The guard is written once and wraps both HTTP stacks in use: httpx (the HTTP and OpenAPI
connectors, OAuth token requests) through `GuardedTransport`, and httpx2 (the MCP SDK's
client, for upstream MCP servers) through `GuardedTransport2`: one class for both
(`_Guarding`), specialised per stack, as is the proxy routing (`_Routing`).
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import socket
import time
from collections.abc import Callable, Iterable, MutableMapping
from typing import Any, ClassVar, Generic, Protocol, Self, TypeVar

import httpx
import httpx2

from connectors import outbound
from connectors.errors import ConnectorConfigError, ConnectorError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

NAT64_PREFIX = ipaddress.IPv6Network("64:ff9b::/96")
METADATA_ADDRESSES = frozenset(
    {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
)
RESOLVE_CACHE_SECONDS = 30.0


class BlockedDestination(ConnectorError):
    """The destination resolves to an address connectors may not reach."""


class UnresolvableHost(OSError):
    """The host has no address (each transport reports it as its own ConnectError)."""


class TargetURL(Protocol):
    """What the guard reads of a URL; httpx.URL and httpx2.URL both fit."""

    @property
    def scheme(self) -> str: ...

    @property
    def host(self) -> str: ...

    @property
    def port(self) -> int | None: ...

    def copy_with(self, **kwargs: Any) -> Self: ...


URLT = TypeVar("URLT", bound=TargetURL)


def embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address carried inside an IPv6 one, for the forms that route to it."""
    if isinstance(address, ipaddress.IPv4Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in NAT64_PREFIX:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


@functools.lru_cache(maxsize=4096)
def why_blocked(address: IPAddress) -> str | None:
    """A short reason when the address is not a public unicast one, else None. Memoised: every
    call of a connector checks every address of its host (5-12 µs each), and they rarely change."""
    inner = embedded_ipv4(address)
    if inner is not None:
        reason = why_blocked(inner)
        return f"{reason}, inside {address}" if reason else None
    if address in METADATA_ADDRESSES:
        return "a cloud metadata address"
    checks = (
        (address.is_loopback, "a loopback address"),
        (address.is_link_local, "a link-local address"),
        (address.is_private, "a private address"),
        (address.is_multicast, "a multicast address"),
        (address.is_unspecified, "the unspecified address"),
        (address.is_reserved, "a reserved address"),
        (not address.is_global, "not a public address"),
    )
    for blocked, reason in checks:
        if blocked:
            return reason
    return None


class AddressResolver:
    """getaddrinfo with a short cache; results are checked by the caller on every use."""

    def __init__(self, ttl: float = RESOLVE_CACHE_SECONDS) -> None:
        self._ttl = ttl
        self._cache: dict[tuple[str, int], tuple[float, list[IPAddress]]] = {}

    async def resolve(self, host: str, port: int) -> list[IPAddress]:
        key = (host, port)
        cached = self._cache.get(key)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise UnresolvableHost(f"cannot resolve {host}: {exc.strerror}") from exc
        addresses = _unique(ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos)
        self._cache[key] = (time.monotonic() + self._ttl, addresses)
        return addresses


async def checked_address(resolver: AddressResolver, url: TargetURL) -> IPAddress:
    """The first address of the URL's host, after checking that none of them is blocked."""
    host = url.host
    port = url.port or (443 if url.scheme == "https" else 80)
    addresses = await resolver.resolve(host, port)
    for address in addresses:
        reason = why_blocked(address)
        if reason is not None:
            raise BlockedDestination(
                f"refused to connect to {host} ({address} is {reason}); connectors reach only public "
                "addresses unless their config sets allow_private_network: true"
            )
    if not addresses:
        raise UnresolvableHost(f"{host} has no addresses")
    return addresses[0]


async def pinned_url(resolver: AddressResolver, url: URLT, extensions: MutableMapping[str, Any]) -> URLT:
    """The URL aimed at the checked address of its host; for https, `extensions` gets the
    host name as TLS SNI (certificates are still checked against the name, not the address).
    Through the HTTPS proxy the URL stays as it is once checked: the proxy resolves the
    name and the TLS session inside its tunnel checks the certificate against it.
    Raises BlockedDestination or UnresolvableHost."""
    address = await checked_address(resolver, url)
    if outbound.current().proxy_for(url.scheme, url.host) is not None:
        return url
    if url.scheme == "https":
        extensions["sni_hostname"] = url.host
    return url.copy_with(host=str(address))


async def refuse_private_destination(connector: str, url: str, allow_private_network: bool) -> None:
    """Registration-time check of a connector URL, so a bad one is refused before it is stored.

    A host that does not resolve now is let through: every call checks again anyway.
    """
    if allow_private_network:
        return
    try:
        await checked_address(AddressResolver(), httpx.URL(url))
    except BlockedDestination as exc:
        raise ConnectorConfigError(f"connector '{connector}': {exc.message}") from None
    except UnresolvableHost:
        return


class _Request(Protocol):
    """What the transports read and set of a request; httpx.Request and httpx2.Request both fit."""

    url: Any
    extensions: Any


RequestT = TypeVar("RequestT", bound=_Request)
ResponseT = TypeVar("ResponseT")
_RequestIn = TypeVar("_RequestIn", bound=_Request, contravariant=True)
_ResponseOut = TypeVar("_ResponseOut", covariant=True)


class _Sends(Protocol[_RequestIn, _ResponseOut]):
    """An async transport of either HTTP stack."""

    async def handle_async_request(self, request: _RequestIn) -> _ResponseOut: ...

    async def aclose(self) -> None: ...


class _Guarding(Generic[RequestT, ResponseT]):
    """The guard, written once for both stacks: each request goes to the checked address of
    its host, keeping Host and TLS SNI. `connect_error` is the stack's own ConnectError."""

    connect_error: ClassVar[Callable[..., Exception]]

    def __init__(self, inner: _Sends[RequestT, ResponseT], resolver: AddressResolver | None = None) -> None:
        self._inner = inner
        self._resolver = resolver or AddressResolver()

    async def handle_async_request(self, request: RequestT) -> ResponseT:
        extensions = dict(request.extensions)
        try:
            request.url = await pinned_url(self._resolver, request.url, extensions)
        except UnresolvableHost as exc:
            raise self.connect_error(str(exc), request=request) from None
        request.extensions = extensions
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


class GuardedTransport(_Guarding[httpx.Request, httpx.Response], httpx.AsyncBaseTransport):
    """The guard for httpx (the HTTP and OpenAPI connectors, OAuth token requests)."""

    connect_error = httpx.ConnectError


class GuardedTransport2(_Guarding[httpx2.Request, httpx2.Response], httpx2.AsyncBaseTransport):
    """The guard for httpx2, the HTTP client of the MCP SDK."""

    connect_error = httpx2.ConnectError


class _Routing(Generic[RequestT, ResponseT]):
    """Direct, or through the HTTPS proxy for the hosts `connectors.outbound` sends there;
    `transport` makes the stack's own transport (its AsyncHTTPTransport)."""

    def __init__(
        self, settings: outbound.Outbound, transport: Callable[..., _Sends[RequestT, ResponseT]]
    ) -> None:
        verify = settings.ssl_context()
        self._settings = settings
        self._direct = transport(verify=verify, trust_env=False)
        self._proxied = (
            transport(verify=verify, trust_env=False, proxy=settings.https_proxy)
            if settings.https_proxy
            else None
        )

    async def handle_async_request(self, request: RequestT) -> ResponseT:
        host = request.extensions.get("sni_hostname") or request.url.host
        if self._proxied is not None and self._settings.proxy_for(request.url.scheme, host):
            return await self._proxied.handle_async_request(request)
        return await self._direct.handle_async_request(request)

    async def aclose(self) -> None:
        await self._direct.aclose()
        if self._proxied is not None:
            await self._proxied.aclose()


class _Routed(_Routing[httpx.Request, httpx.Response], httpx.AsyncBaseTransport):
    pass


class _Routed2(_Routing[httpx2.Request, httpx2.Response], httpx2.AsyncBaseTransport):
    pass


def outbound_transport(allow_private_network: bool) -> httpx.AsyncBaseTransport:
    """The transport for a connector's own client: guarded unless private networks are
    allowed; through the HTTPS proxy and trusting the CA bundle of `connectors.outbound`."""
    transport = _Routed(outbound.current(), httpx.AsyncHTTPTransport)
    return transport if allow_private_network else GuardedTransport(transport)


def outbound_transport2(allow_private_network: bool) -> httpx2.AsyncBaseTransport:
    """`outbound_transport` for httpx2 (upstream MCP servers); proxies are not read from the
    environment."""
    transport = _Routed2(outbound.current(), httpx2.AsyncHTTPTransport)
    return transport if allow_private_network else GuardedTransport2(transport)


def _unique(addresses: Iterable[IPAddress]) -> list[IPAddress]:
    seen: list[IPAddress] = []
    for address in addresses:
        if address not in seen:
            seen.append(address)
    return seen
