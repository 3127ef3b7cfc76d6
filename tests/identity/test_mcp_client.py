"""A real MCP client signs in the way assistants do: 401 → protected-resource metadata →
authorization server metadata → dynamic registration → authorization code with PKCE → token."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import httpx
import httpx2
from mcp.client.auth import OAuthClientProvider
from mcp.client.client import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import (
    AuthorizationCodeResult,
    OAuthClientInformationFull,
    OAuthClientMetadata,
    OAuthToken,
)
from pydantic import AnyUrl

from tests.identity.conftest import OAuthSetup

REDIRECT = "http://127.0.0.1:9/callback"


class MemoryStorage:
    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client = client_info


class Browser:
    """Follows the authorization URL the way a user's browser would; the test server approves."""

    def __init__(self) -> None:
        self.location = ""

    async def open(self, url: str) -> None:
        async with httpx.AsyncClient() as http:
            response = await http.get(url)
        assert response.status_code in (302, 307), response.text
        self.location = response.headers["location"]

    async def callback(self) -> AuthorizationCodeResult:
        query = parse_qs(urlsplit(self.location).query)
        return AuthorizationCodeResult(code=query["code"][0], state=query.get("state", [None])[0])


async def test_an_mcp_client_signs_in_and_calls_a_tool_as_its_user(oauth: OAuthSetup) -> None:
    oauth.idp.user = {"sub": "carol", "email": "carol@example.com", "groups": ["support"]}
    browser, storage = Browser(), MemoryStorage()
    provider = OAuthClientProvider(
        server_url=oauth.gateway.mcp_url,
        client_metadata=OAuthClientMetadata(
            client_name="test assistant", redirect_uris=[AnyUrl(REDIRECT)], grant_types=["authorization_code"]
        ),
        storage=storage,
        redirect_handler=browser.open,
        callback_handler=browser.callback,
    )
    async with (
        httpx2.AsyncClient(auth=provider, timeout=30) as http,
        Client(streamable_http_client(oauth.gateway.mcp_url, http_client=http), cache=None) as client,
    ):
        tools = await client.list_tools()
        assert [tool.name for tool in tools.tools] == ["weather.current"]
        result = await client.call_tool("weather.current", {"city": "Paris"})
        assert not result.is_error, result
    assert storage.tokens is not None and storage.client is not None
    agent = storage.client.client_id
    # The unknown client was provisioned as an agent (no grants of its own; its user's group gives the team).
    assert oauth.gateway.admin.get(f"/admin/agents/{agent}").status_code == 200
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        records = oauth.gateway.admin.get("/admin/audit", params={"agent": agent}).json()
        items = records["records"] if isinstance(records, dict) else records
        if items:
            break
        time.sleep(0.1)
    assert items[0]["end_user"] == "carol" and items[0]["tool"] == "weather.current"
