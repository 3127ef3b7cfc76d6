"""Per-user grants for an MCP upstream: one upstream session per end user, each with that
user's own token, for tools, resources and prompts alike; URL elicitation for the link."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import httpx2
import mcp_types as types
import pytest
from mcp.client.client import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from broker.demo.upstreams.serve import BackgroundServer
from tests.e2e.helpers import mcp_client
from tests.identity.auth_server import AuthServer
from tests.identity.conftest import OAuthSetup
from tests.identity.grants import (
    UPSTREAM_CLIENT,
    allow_sign_in,
    browser,
    connect_link,
    upstream_authorization_server,
)
from tests.identity.mcp_upstream import WhoAmI

RESOURCE = "broker://who/profile://me"


@dataclass
class Setup:
    oauth: OAuthSetup
    crm_as: AuthServer
    upstream: WhoAmI

    def connect(self, user: str, upstream_user: str, link: str) -> None:
        self.oauth.idp.user = {"sub": user}
        self.crm_as.user = {"sub": upstream_user}
        with browser() as user_browser:
            done = user_browser.allow(link)
        assert done.status_code == 200 and "Connected to who" in done.text, done.text


@pytest.fixture(scope="module")
def setup(oauth: OAuthSetup) -> Iterator[Setup]:
    gateway = oauth.gateway
    allow_sign_in(oauth.idp, gateway.url)
    with upstream_authorization_server(gateway.url) as crm_as:
        upstream = WhoAmI(crm_as)
        gateway.admin.put(
            "/admin/secrets/who-oauth-client", json={"value": UPSTREAM_CLIENT[1]}
        ).raise_for_status()
        with BackgroundServer(upstream.app()) as server:
            connector = {
                "name": "who",
                "kind": "mcp",
                "transport": "http",
                "url": f"{server.url}/mcp",
                "allow_private_network": True,
                "auth": {
                    "type": "user_oauth",
                    "authorization_url": f"{crm_as.issuer}/authorize",
                    "token_url": f"{crm_as.issuer}/token",
                    "client_id": UPSTREAM_CLIENT[0],
                    "secret": "who-oauth-client",
                    "scopes": ["crm.read"],
                    "authorize_params": {"resource": "crm-api"},
                },
            }
            gateway.admin.post("/admin/connectors", json=connector).raise_for_status()
            policy = {
                "name": "support",
                "teams": ["support"],
                "allow": ["weather.*", "who.*"],
                "resources": {"allow": ["broker://who/*"]},
                "prompts": {"allow": ["who.*"]},
            }
            gateway.admin.post("/admin/policies", json={"policies": [policy]}).raise_for_status()
            yield Setup(oauth, crm_as, upstream)


async def everything(setup: Setup, token: str) -> tuple[str, str, str]:
    async with mcp_client(setup.oauth.gateway.mcp_url, token) as client:
        tool = await client.call_tool("who.whoami", {})
        assert not tool.is_error, tool
        read = await client.read_resource(RESOURCE)
        prompt = await client.get_prompt("who.greeting", {})
    return (
        tool.content[0].text,  # type: ignore[union-attr]
        read.contents[0].text,  # type: ignore[union-attr]
        prompt.messages[0].content.text,  # type: ignore[union-attr]
    )


async def test_each_user_has_their_own_upstream_session_for_tools_resources_and_prompts(setup: Setup) -> None:
    tokens = {user: setup.oauth.token(sub=user) for user in ("alice", "bob")}
    for user, token in tokens.items():
        async with mcp_client(setup.oauth.gateway.mcp_url, token) as client:
            result = await client.call_tool("who.whoami", {})
            assert result.is_error
            link = connect_link(result.content[0].text)  # type: ignore[union-attr]
            with pytest.raises(MCPError) as refused:  # a read says the same, with the link in `data`
                await client.read_resource(RESOURCE)
            assert "/connect/" in refused.value.error.message
            assert refused.value.error.data["connector"] == "who"
        setup.connect(user, f"{user}-at-crm", link)
    for _ in range(2):
        for user, token in tokens.items():
            expected = f"{user}-at-crm"
            assert await everything(setup, token) == (
                f"tool:{expected}",
                f"resource:{expected}",
                f"prompt:{expected}",
            )
    assert not set(tokens.values()) & set(setup.upstream.seen)  # the clients' own tokens never go upstream


async def test_a_2025_client_with_url_elicitation_gets_the_link_as_an_elicitation(setup: Setup) -> None:
    token = setup.oauth.token(sub="carol")

    async def never_asked(context: object, params: object) -> types.ElicitResult:
        return types.ElicitResult(action="decline")

    async with (
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30) as http,
        Client(
            streamable_http_client(setup.oauth.gateway.mcp_url, http_client=http),
            mode="legacy",
            cache=None,
            elicitation_callback=never_asked,  # type: ignore[arg-type]
        ) as client,
    ):
        with pytest.raises(MCPError) as raised:
            await client.call_tool("who.whoami", {})
        with pytest.raises(MCPError) as read:
            await client.read_resource(RESOURCE)
    error = raised.value.error
    assert (
        error.code == types.URL_ELICITATION_REQUIRED
        and read.value.error.code == types.URL_ELICITATION_REQUIRED
    )
    elicitation = error.data["elicitations"][0]
    assert elicitation["mode"] == "url" and "/connect/" in elicitation["url"] and elicitation["elicitationId"]
    setup.connect("carol", "carol-at-crm", elicitation["url"])
    assert await everything(setup, token) == (
        "tool:carol-at-crm",
        "resource:carol-at-crm",
        "prompt:carol-at-crm",
    )
