"""Credentials for upstream MCP servers over HTTP: bearer tokens and OAuth client credentials
from the call context, one session per credential set, and never a secret shown."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from mcp.client.client import Client

from broker.demo.upstreams.serve import BackgroundServer
from connectors._oauth import TOKENS
from connectors.auth import MissingCredential
from connectors.base import CallContext
from connectors.errors import ConnectorConfigError, UpstreamError
from connectors.mcp import McpConnector, McpConnectorConfig, prepare_mcp
from connectors.mcp.credentials import Grant
from connectors.mcp.links import MAX_LINKS, Link, Links
from tests.connectors.mcp.secured import Doorman, secured_app
from tests.connectors.mcp.upstream import Catalog
from tests.secrets.upstreams import TokenServer

SHARED = "shared-t0ken/+&=1234"
ROTATED = "rotated-t0ken-5678"
ALICE = "alice-0nly-t0ken-9abc"
SECRETS = {"up-token": SHARED, "alice-token": ALICE}


@dataclass
class Secured:
    url: str
    doorman: Doorman
    accepted: set[str]
    legacy: bool

    def config(self, **extra: Any) -> McpConnectorConfig:
        auth = {"type": "bearer", "secret": "up-token", "per_agent": {"alice": "alice-token"}}
        return McpConnectorConfig.model_validate(
            {
                "kind": "mcp",
                "name": "up",
                "transport": "http",
                "url": self.url,
                "allow_private_network": True,
                "auth": auth,
                **extra,
            }
        )


@pytest.fixture(params=["modern", "legacy"])
def secured(request: pytest.FixtureRequest) -> Iterator[Secured]:
    accepted, legacy = {SHARED, ALICE}, request.param == "legacy"
    app, doorman = secured_app(Catalog(), accepted.__contains__, legacy_only=legacy)
    with BackgroundServer(app) as server:
        yield Secured(f"{server.url}/mcp", doorman, accepted, legacy)


def as_agent(agent: str | None, **secrets: str) -> CallContext:
    return CallContext(agent=agent, secrets={**SECRETS, **secrets})


def shown(*texts: object) -> str:
    return "\n".join(str(text) for text in texts)


async def test_registration_lists_tools_with_the_shared_secret(secured: Secured) -> None:
    with pytest.raises(ConnectorConfigError, match="the secret 'up-token' it needs is missing"):
        await prepare_mcp(secured.config())

    config = await prepare_mcp(secured.config(), as_agent("alice"))  # registration: never per agent

    assert config.tools is not None and "whoami" in [tool.name for tool in config.tools]
    assert secured.doorman.tokens() == {SHARED}
    assert McpConnector(config).secret_refs() == {"up-token", "alice-token"}


async def test_each_agent_brings_its_own_token_and_none_comes_back(secured: Secured) -> None:
    config = await prepare_mcp(secured.config(), as_agent(None))
    secured.doorman.seen.clear()

    async with McpConnector(config) as connector:
        outputs = [await connector.call("whoami", {}, as_agent(agent)) for agent in ("bob", "alice", "bob")]
        with pytest.raises(MissingCredential, match="the secret 'alice-token' it needs is missing"):
            await connector.call("whoami", {}, CallContext("alice", {"up-token": SHARED}))

    assert [output.structured for output in outputs] == [{"authorization": "Bearer ***"}] * 3
    assert outputs[0].content == [{"type": "text", "text": "you sent Bearer ***"}]
    assert secured.doorman.tokens() == {SHARED, ALICE}
    assert SHARED not in shown(*outputs) and ALICE not in shown(*outputs)


async def test_a_rotated_secret_gets_a_new_session_and_the_old_one_closes(secured: Secured) -> None:
    config = await prepare_mcp(secured.config(), as_agent(None))
    secured.accepted.add(ROTATED)

    async with McpConnector(config) as connector:
        await connector.call("echo", {"text": "before"}, as_agent("bob"))
        secured.doorman.seen.clear()
        output = await connector.call("echo", {"text": "after"}, as_agent("bob", **{"up-token": ROTATED}))
        assert output.structured == {"text": "after", "length": 5}
        await asyncio.sleep(0.5)  # the old session is closed in the background, not at aclose
        if secured.legacy:  # a 2025-era session is ended explicitly, with the credentials it had
            assert ("DELETE", SHARED) in secured.doorman.seen

    used = {token for method, token in secured.doorman.seen if method != "DELETE"}
    assert used == {ROTATED}


async def test_a_refused_token_is_reported_without_it(secured: Secured) -> None:
    config = await prepare_mcp(secured.config(), as_agent(None))
    wrong = "wrong-t0ken-def0"

    async with McpConnector(config) as connector:
        with pytest.raises(UpstreamError) as caught:
            await connector.call("echo", {"text": "x"}, as_agent("bob", **{"up-token": wrong}))

    assert "HTTP status 401" in caught.value.message
    assert wrong in secured.doorman.refused and wrong not in caught.value.message


async def test_oauth_tokens_are_fetched_and_renewed_after_a_401() -> None:
    tokens = TokenServer(clients={"broker": "client-s3cret-1234"})
    app, doorman = secured_app(Catalog(), tokens.issued.__contains__)
    TOKENS.clear()
    with BackgroundServer(tokens.app()) as issuer, BackgroundServer(app) as upstream:
        auth = {
            "type": "oauth2_client_credentials",
            "token_url": f"{issuer.url}/oauth/token",
            "client_id": "broker",
            "secret": "client",
        }
        config = McpConnectorConfig.model_validate(
            {"kind": "mcp", "name": "up", "transport": "http", "url": f"{upstream.url}/mcp", "auth": auth}
        )
        with pytest.raises(ConnectorConfigError, match="is a loopback address"):
            await prepare_mcp(config, CallContext(None, {"client": "client-s3cret-1234"}))
        allowed = config.model_copy(update={"allow_private_network": True})
        context = CallContext("bob", {"client": "client-s3cret-1234"})
        async with McpConnector(await prepare_mcp(allowed, context)) as connector:
            first = await connector.call("whoami", {}, context)
            tokens.revoke_all()  # the upstream now refuses the cached token: 401, renewed, retried
            second = await connector.call("echo", {"text": "again"}, context)

    TOKENS.clear()
    assert len(tokens.token_requests) == 2
    assert first.structured == {"authorization": "Bearer ***"}
    assert second.structured == {"text": "again", "length": 5}
    assert len(doorman.tokens()) == 2 and doorman.refused


def grant(key: str, value: str) -> Grant:
    return Grant(key=(key,), fingerprint=value)


async def never_opened(*_: object) -> Client:
    raise AssertionError("these links are never connected")


def test_links_keep_one_session_per_credential_set_and_a_bounded_number() -> None:
    links = Links(lambda link: never_opened)
    shared, idle = links.acquire(grant("up-token", "v1"))
    assert idle == [] and links.release(shared) is False

    rotated, idle = links.acquire(grant("up-token", "v2"))
    assert rotated is not shared and idle == [shared] and shared.retired
    links.release(rotated)

    held: list[Link] = []
    for n in range(MAX_LINKS):
        link, idle = links.acquire(grant(f"agent-{n}", "v"))
        held.append(link)
    assert idle == [rotated]  # the least recently used went first, and it was idle
    oldest = held[0]
    _, idle = links.acquire(grant("one-more", "v"))
    assert oldest.retired and idle == []  # still in use: stopped when released
    assert links.release(oldest) is True


def test_per_user_links_are_bounded_and_the_idle_ones_are_retired() -> None:
    links = Links(lambda link: never_opened, limit=3, idle_seconds=60)
    users = [links.acquire(grant(f"caller:{n}", f"caller:{n}"))[0] for n in range(3)]
    busy = users[0]
    for link in users[1:]:
        links.release(link)
    for link in users[1:]:
        link.last_used -= 120  # unused for two minutes
    newcomer, idle = links.acquire(grant("caller:new", "caller:new"))
    assert idle == users[1:] and all(link.retired for link in users[1:])
    assert not busy.retired  # in use: never idle
    more = [links.acquire(grant(f"caller:more-{n}", f"caller:more-{n}"))[0] for n in range(2)]
    assert busy.retired and not newcomer.retired and not any(link.retired for link in more)  # the bound: 3
    assert links.release(busy) is True  # stopped once its call ends
