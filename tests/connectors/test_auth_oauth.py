"""OAuth 2.0 client credentials against a real local token endpoint and API: the token is
cached, renewed before it expires, and a 401 costs exactly one new token and one retry."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest

from broker.demo.upstreams.serve import BackgroundServer
from connectors._oauth import TOKENS, TokenCache
from connectors.base import CallContext
from connectors.errors import UpstreamHTTPError, UpstreamTimeout, UpstreamUnreachable
from connectors.http.connector import HttpConnector, HttpConnectorConfig
from tests.secrets.upstreams import TokenServer

CLIENT_SECRET = "client-s3cret-value"


@pytest.fixture(autouse=True)
def fresh_token_cache() -> Iterator[None]:
    TOKENS.clear()
    yield
    TOKENS.clear()


@pytest.fixture
def tokens() -> TokenServer:
    return TokenServer(clients={"broker": CLIENT_SECRET})


@pytest.fixture
def server_url(tokens: TokenServer) -> Iterator[str]:
    with BackgroundServer(tokens.app()) as server:
        yield server.url


Make = Callable[..., HttpConnector]


@pytest.fixture
async def make() -> AsyncIterator[Make]:
    """Builds the connector with a plain transport to the loopback servers (its own would
    refuse loopback), for the API and the token endpoint alike."""
    async with httpx.AsyncHTTPTransport() as transport:

        def build(url: str, token_url: str | None = None, timeout: float = 5, **auth: Any) -> HttpConnector:
            return HttpConnector(config(url, token_url, timeout, **auth), transport=transport)

        yield build


def config(url: str, token_url: str | None, timeout: float, **auth: Any) -> HttpConnectorConfig:
    return HttpConnectorConfig.model_validate(
        {
            "kind": "http",
            "name": "crm",
            "base_url": url,
            "timeout_seconds": timeout,
            "auth": {
                "type": "oauth2_client_credentials",
                "token_url": token_url or f"{url}/oauth/token",
                "client_id": "broker",
                "secret": "crm-client",
                "scopes": ["crm.read", "crm.write"],
                "audience": "https://crm.example",
                **auth,
            },
            "tools": [{"name": "whoami", "description": "who am I", "path": "/api/whoami"}],
        }
    )


CONTEXT = CallContext(agent="support-bot", secrets={"crm-client": CLIENT_SECRET})


async def test_the_token_is_fetched_once_and_reused(make: Make, tokens: TokenServer, server_url: str) -> None:
    async with make(server_url) as connector:
        for _ in range(3):
            assert (await connector.call("whoami", {}, CONTEXT)).structured == {"client": "broker"}
    assert tokens.token_requests == [
        {"grant_type": "client_credentials", "scope": "crm.read crm.write", "audience": "https://crm.example"}
    ]
    assert tokens.api_requests == 3


async def test_concurrent_calls_share_one_token_request(
    make: Make, tokens: TokenServer, server_url: str
) -> None:
    async with make(server_url) as connector:
        results = await asyncio.gather(*(connector.call("whoami", {}, CONTEXT) for _ in range(10)))
    assert all(r.structured == {"client": "broker"} for r in results)
    assert len(tokens.token_requests) == 1


async def test_a_token_is_renewed_shortly_before_it_expires(
    make: Make, tokens: TokenServer, server_url: str
) -> None:
    tokens.expires_in = 1
    async with make(server_url) as connector:
        await connector.call("whoami", {}, CONTEXT)
        await connector.call("whoami", {}, CONTEXT)
        assert len(tokens.token_requests) == 1
        await asyncio.sleep(1.0)  # renewed at 0.9 s, before the server's 1 s expiry
        assert (await connector.call("whoami", {}, CONTEXT)).structured == {"client": "broker"}
    assert len(tokens.token_requests) == 2
    assert tokens.api_requests == 3  # no 401 was needed


async def test_a_401_drops_the_token_and_retries_once(
    make: Make, tokens: TokenServer, server_url: str
) -> None:
    async with make(server_url) as connector:
        await connector.call("whoami", {}, CONTEXT)
        tokens.revoke_all()  # the upstream forgets the token before it expires
        assert (await connector.call("whoami", {}, CONTEXT)).structured == {"client": "broker"}
        assert (len(tokens.token_requests), tokens.api_requests) == (2, 3)
        await connector.call("whoami", {}, CONTEXT)  # the new token is cached
    assert (len(tokens.token_requests), tokens.api_requests) == (2, 4)


async def test_an_upstream_that_keeps_refusing_is_retried_exactly_once(
    make: Make, tokens: TokenServer, server_url: str
) -> None:
    tokens.reject_all = True
    async with make(server_url) as connector:
        with pytest.raises(UpstreamHTTPError) as caught:
            await connector.call("whoami", {}, CONTEXT)
    assert caught.value.status_code == 401
    assert (len(tokens.token_requests), tokens.api_requests) == (2, 2)


async def test_client_secret_post(make: Make, tokens: TokenServer, server_url: str) -> None:
    async with make(server_url, client_auth="client_secret_post", scopes=[], audience=None) as connector:
        assert (await connector.call("whoami", {}, CONTEXT)).structured == {"client": "broker"}
    assert tokens.token_requests == [{"grant_type": "client_credentials", "client_id": "broker"}]


async def test_a_refused_grant_says_why_without_the_secret(make: Make, server_url: str) -> None:
    wrong = CallContext(secrets={"crm-client": "wrong-secret-value"})
    async with make(server_url) as connector:
        with pytest.raises(UpstreamHTTPError) as caught:
            await connector.call("whoami", {}, wrong)
    message = caught.value.message
    assert message.startswith("upstream 'crm': the token endpoint refused the client credentials grant: 401")
    assert "invalid_client" in message  # the server's error_description echoes the secret
    assert "wrong-secret-value" not in message and "***" in message


async def test_the_token_endpoint_has_the_connectors_timeout(
    make: Make, tokens: TokenServer, server_url: str
) -> None:
    tokens.delay_seconds = 0.6
    async with make(server_url, timeout=0.2) as connector:
        with pytest.raises(UpstreamTimeout, match=r"token endpoint did not answer within 0\.2 s"):
            await connector.call("whoami", {}, CONTEXT)


async def test_an_unreachable_token_endpoint(make: Make, server_url: str, closed_port: int) -> None:
    async with make(server_url, token_url=f"http://127.0.0.1:{closed_port}/token") as connector:
        with pytest.raises(
            UpstreamUnreachable,
            match=f"token endpoint is unreachable: cannot connect to 127.0.0.1:{closed_port}",
        ):
            await connector.call("whoami", {}, CONTEXT)


async def test_a_new_client_secret_gets_a_new_token(make: Make, tokens: TokenServer, server_url: str) -> None:
    async with make(server_url) as connector:
        await connector.call("whoami", {}, CONTEXT)
        tokens.clients["broker"] = "rotated-secret"
        await connector.call("whoami", {}, CallContext(secrets={"crm-client": "rotated-secret"}))
    assert len(tokens.token_requests) == 2


async def test_token_cache_renews_early_and_drops_only_the_token_it_was_told() -> None:
    now = [0.0]
    cache = TokenCache(clock=lambda: now[0])
    issued: list[str] = []

    async def fetch() -> tuple[str, float | None]:
        issued.append(f"t{len(issued) + 1}")
        return issued[-1], 100.0

    assert await cache.token("k", fetch) == "t1"
    now[0] = 89.9  # a tenth of the lifetime (10 s) before expiry, it is still fresh
    assert await cache.token("k", fetch) == "t1"
    now[0] = 90.0
    assert await cache.token("k", fetch) == "t2"
    cache.drop("k", "t1")  # a stale 401 from a call that used t1 leaves t2 alone
    assert await cache.token("k", fetch) == "t2"
    cache.drop("k", "t2")
    assert await cache.token("k", fetch) == "t3"


async def test_token_cache_failed_fetch_reaches_every_waiter_and_is_not_cached() -> None:
    cache = TokenCache()
    calls = 0

    async def failing() -> tuple[str, float | None]:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.05)
        raise UpstreamUnreachable("down")

    results = await asyncio.gather(*(cache.token("k", failing) for _ in range(3)), return_exceptions=True)
    assert [type(r) for r in results] == [UpstreamUnreachable] * 3 and calls == 1
    with pytest.raises(UpstreamUnreachable):
        await cache.token("k", failing)
    assert calls == 2
