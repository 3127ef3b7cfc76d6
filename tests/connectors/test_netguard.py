"""Outbound safety: connector URLs that lead to loopback, private, link-local or metadata
addresses are refused, however the address is spelled, at registration and on every call;
over httpx (http, openapi) and httpx2 (upstream MCP servers) alike."""

from __future__ import annotations

import ipaddress
from typing import Any

import httpx
import httpx2
import pytest

from broker.demo.upstreams.serve import BackgroundServer
from connectors.errors import ConnectorConfigError
from connectors.http.connector import HttpConnector, HttpConnectorConfig
from connectors.mcp import McpConnector, McpConnectorConfig
from connectors.netguard import (
    AddressResolver,
    BlockedDestination,
    GuardedTransport,
    GuardedTransport2,
    IPAddress,
    why_blocked,
)
from connectors.registry import prepare
from tests.connectors.mcp.upstream import Catalog, create_app

BLOCKED = [
    "127.0.0.1",
    "127.255.255.254",
    "10.1.2.3",
    "172.16.0.1",
    "192.168.1.1",
    "169.254.169.254",
    "169.254.1.1",
    "100.64.0.1",
    "0.0.0.0",
    "224.0.0.1",
    "240.0.0.1",
    "::1",
    "::",
    "fe80::1",
    "fc00::1",
    "fd00:ec2::254",
    "::ffff:127.0.0.1",
    "::ffff:10.0.0.1",
    "2002:7f00:1::",  # 6to4 of 127.0.0.1
    "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
    "2001:0:4136:e378:8000:63bf:80ff:fffe",  # Teredo whose client is 127.0.0.1
]
PUBLIC = ["8.8.8.8", "1.1.1.1", "93.184.216.34", "2606:4700:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"]


@pytest.mark.parametrize("address", BLOCKED)
def test_non_public_addresses_are_blocked(address: str) -> None:
    assert why_blocked(ipaddress.ip_address(address)) is not None


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_pass(address: str) -> None:
    assert why_blocked(ipaddress.ip_address(address)) is None


def weather_config(base_url: str, **extra: Any) -> HttpConnectorConfig:
    return HttpConnectorConfig.model_validate(
        {
            "kind": "http",
            "name": "weather",
            "base_url": base_url,
            "tools": [
                {
                    "name": "current",
                    "description": "d",
                    "path": "/v1/current",
                    "query": ["city"],
                    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
                }
            ],
            **extra,
        }
    )


def loopback_spellings(port: int) -> list[str]:
    return [
        f"http://127.0.0.1:{port}",
        f"http://localhost:{port}",
        f"http://127.1:{port}",
        f"http://0x7f000001:{port}",
        f"http://2130706433:{port}",
        f"http://[::ffff:127.0.0.1]:{port}",
    ]


async def test_every_spelling_of_loopback_is_refused_on_call(weather_upstream: str) -> None:
    port = httpx.URL(weather_upstream).port
    assert port is not None
    for base_url in loopback_spellings(port):
        async with HttpConnector(weather_config(base_url)) as connector:
            with pytest.raises(BlockedDestination) as caught:
                await connector.call("current", {"city": "Paris"})
        assert "upstream 'weather'" in caught.value.message
        assert "allow_private_network" in caught.value.message


def test_an_octal_ip_spelling_is_not_even_a_valid_url() -> None:
    with pytest.raises(ValueError, match="Invalid IPv4 address"):
        weather_config("http://0177.0.0.1:8080")


async def test_every_spelling_of_loopback_is_refused_at_registration(weather_upstream: str) -> None:
    port = httpx.URL(weather_upstream).port
    assert port is not None
    for base_url in loopback_spellings(port):
        with pytest.raises(ConnectorConfigError, match="is a loopback address"):
            await prepare(weather_config(base_url))


async def test_an_openapi_spec_url_on_loopback_is_refused(crm_upstream: str) -> None:
    from connectors.http.openapi import OpenAPIConnectorConfig

    config = OpenAPIConnectorConfig.model_validate(
        {"kind": "openapi", "name": "crm", "spec_url": f"{crm_upstream}/openapi.json"}
    )
    with pytest.raises(ConnectorConfigError, match="is a loopback address"):
        await prepare(config)


async def test_the_operator_can_allow_private_networks(weather_upstream: str) -> None:
    config = weather_config(weather_upstream, allow_private_network=True)
    assert (await prepare(config)).config == config
    async with HttpConnector(config) as connector:
        output = await connector.call("current", {"city": "Paris"})
    assert output.structured is not None and output.structured["city"] == "Paris"


class FixedResolver(AddressResolver):
    """A resolver answering from a table, to stand in for public DNS."""

    def __init__(self, table: dict[str, list[str]]) -> None:
        super().__init__()
        self._table = table

    async def resolve(self, host: str, port: int) -> list[IPAddress]:
        return [ipaddress.ip_address(a) for a in self._table[host]]


async def test_requests_go_to_the_checked_address_and_keep_host_and_sni() -> None:
    seen: list[httpx.Request] = []

    def upstream(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"ok": True})

    resolver = FixedResolver({"api.example.com": ["93.184.216.34"]})
    transport = GuardedTransport(httpx.MockTransport(upstream), resolver)
    async with httpx.AsyncClient(transport=transport) as client:
        response = await client.get("https://api.example.com/v1/x")
    assert response.json() == {"ok": True}
    assert seen[0].url.host == "93.184.216.34"
    assert seen[0].headers["host"] == "api.example.com"
    assert seen[0].extensions["sni_hostname"] == "api.example.com"


async def test_a_host_with_any_private_address_is_refused() -> None:
    resolver = FixedResolver({"rebind.example.com": ["93.184.216.34", "10.0.0.5"]})
    transport = GuardedTransport(httpx.MockTransport(lambda r: httpx.Response(200)), resolver)
    async with httpx.AsyncClient(transport=transport) as client:
        with pytest.raises(BlockedDestination, match=r"10\.0\.0\.5 is a private address"):
            await client.get("http://rebind.example.com/")


async def test_each_redirect_hop_is_checked_again() -> None:
    def upstream(request: httpx.Request) -> httpx.Response:
        return httpx.Response(302, headers={"location": "http://metadata.internal/latest/meta-data/"})

    resolver = FixedResolver({"api.example.com": ["93.184.216.34"], "metadata.internal": ["169.254.169.254"]})
    transport = GuardedTransport(httpx.MockTransport(upstream), resolver)
    async with httpx.AsyncClient(transport=transport, follow_redirects=True) as client:
        with pytest.raises(BlockedDestination, match="cloud metadata address"):
            await client.get("http://api.example.com/start")


async def test_the_httpx2_guard_keeps_host_and_sni_and_refuses_private_addresses() -> None:
    seen: list[httpx2.Request] = []

    def upstream(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        return httpx2.Response(200, json={"ok": True})

    resolver = FixedResolver({"mcp.example.com": ["93.184.216.34"], "rebind.example.com": ["10.0.0.5"]})
    transport = GuardedTransport2(httpx2.MockTransport(upstream), resolver)
    async with httpx2.AsyncClient(transport=transport) as client:
        assert (await client.get("https://mcp.example.com/mcp")).json() == {"ok": True}
        with pytest.raises(BlockedDestination, match=r"10\.0\.0\.5 is a private address"):
            await client.get("https://rebind.example.com/mcp")
    assert seen[0].url.host == "93.184.216.34"
    assert seen[0].headers["host"] == "mcp.example.com"
    assert seen[0].extensions["sni_hostname"] == "mcp.example.com"
    assert len(seen) == 1


async def test_an_unresolvable_host_is_a_connect_error_of_each_client() -> None:
    never2 = httpx2.MockTransport(lambda request: httpx2.Response(200))
    async with httpx2.AsyncClient(transport=GuardedTransport2(never2)) as two:
        with pytest.raises(httpx2.ConnectError, match=r"cannot resolve no-such-host\.invalid"):
            await two.get("http://no-such-host.invalid/")
    never = httpx.MockTransport(lambda request: httpx.Response(200))
    async with httpx.AsyncClient(transport=GuardedTransport(never)) as one:
        with pytest.raises(httpx.ConnectError, match=r"cannot resolve no-such-host\.invalid"):
            await one.get("http://no-such-host.invalid/")


def mcp_config(url: str, **extra: Any) -> McpConnectorConfig:
    return McpConnectorConfig.model_validate(
        {"kind": "mcp", "name": "up", "transport": "http", "url": url, **extra}
    )


async def test_an_upstream_mcp_server_on_loopback_is_refused_unless_allowed() -> None:
    catalog = Catalog()
    with BackgroundServer(create_app(catalog)) as server:
        port = httpx.URL(server.url).port
        assert port is not None
        for base_url in loopback_spellings(port):
            with pytest.raises(ConnectorConfigError) as caught:
                await prepare(mcp_config(f"{base_url}/mcp"))
            assert "is a loopback address" in caught.value.message
            assert "allow_private_network: true" in caught.value.message

        unguarded = mcp_config(f"{server.url}/mcp", tools=[])  # as if it resolved elsewhere at registration
        async with McpConnector(unguarded) as connector:
            refused = r"upstream 'up': refused to connect to 127\.0\.0\.1"
            with pytest.raises(BlockedDestination, match=refused):
                await connector.live_tools()

        allowed = (await prepare(mcp_config(f"{server.url}/mcp", allow_private_network=True))).config
        assert isinstance(allowed, McpConnectorConfig) and allowed.tools
        async with McpConnector(allowed) as connector:
            output = await connector.call("echo", {"text": "inside"})
        assert output.structured == {"text": "inside", "length": 6}
    assert catalog.calls == ["echo"]
