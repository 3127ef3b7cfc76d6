"""Requests to the client on MCP 2026-07-28: an upstream's elicitation reaches a 2026 client as
an input-required result, and the client's retry carries the answer back to the upstream."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

import httpx2
import mcp_types as types
import pytest
from mcp.client.client import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.resolve import Elicit, Resolve
from mcp.shared.exceptions import MCPError
from pydantic import BaseModel

from broker.demo.upstreams.serve import BackgroundServer
from tests.conftest import RunningGateway

pytestmark = pytest.mark.filterwarnings("ignore::mcp.shared.exceptions.MCPDeprecationWarning")
EMAIL = "jane.roe@example.com"


class Consent(BaseModel):
    share: bool


def ask_user(account: str) -> Elicit[Consent]:
    return Elicit(f"Share the account {account} of {EMAIL}?", Consent)


def upstream_app() -> Any:
    server: MCPServer[Any] = MCPServer(name="asking-upstream")

    @server.tool()
    async def share(account: str, consent: Annotated[Consent, Resolve(ask_user)]) -> str:
        """Shares an account once the user agrees."""
        return f"shared {account}: {consent.share}"

    return server.streamable_http_app()


@pytest.fixture
def key(gateway: RunningGateway) -> Iterator[str]:
    with BackgroundServer(upstream_app()) as upstream:
        connector = {"kind": "mcp", "name": "up", "transport": "http", "url": f"{upstream.url}/mcp"}
        registered = gateway.admin.post(
            "/admin/connectors", json={**connector, "allow_private_network": True}
        )
        assert registered.status_code == 201, registered.text
        agent_key = gateway.create_agent("asking-bot")
        policy = {"name": "asking", "agents": ["asking-bot"], "allow": ["up.*"], "masking": {}}
        assert gateway.admin.post("/admin/policies", json={"policies": [policy]}).status_code == 200
        yield agent_key


async def test_a_2026_client_answers_through_input_required_rounds(gateway: RunningGateway, key: str) -> None:
    asked: list[str] = []

    async def on_elicit(context: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        asked.append(params.message)
        return types.ElicitResult(action="accept", content={"share": True})

    headers = {"Authorization": f"Bearer {key}"}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=30) as http,
        Client(
            streamable_http_client(gateway.mcp_url, http_client=http),
            mode="auto",
            cache=None,
            elicitation_callback=on_elicit,
        ) as client,
    ):
        assert client.protocol_version == "2026-07-28"
        result = await client.call_tool("up.share", {"account": "acme"})
        first = await client.session.call_tool("up.share", {"account": "acme"}, allow_input_required=True)
        assert isinstance(first, types.InputRequiredResult) and first.request_state is not None
        with pytest.raises(MCPError, match="Invalid or expired requestState"):  # sealed: no forgery
            await client.session.call_tool(
                "up.share",
                {"account": "acme"},
                input_responses={"x": types.ElicitResult(action="accept", content={"share": True})},
                request_state=first.request_state[:-4] + "AAAA",
                allow_input_required=True,
            )

        unasked = {"nope": types.ElicitResult(action="accept", content={"share": True})}
        with pytest.raises(MCPError, match="'nope', which this call did not ask for"):
            await client.session.call_tool(
                "up.share", {"account": "acme"}, input_responses=unasked, request_state=first.request_state
            )

    other = {"Authorization": f"Bearer {gateway.create_agent('third-bot')}"}
    async with (
        httpx2.AsyncClient(headers=other, timeout=30) as http,
        Client(streamable_http_client(gateway.mcp_url, http_client=http), mode="auto", cache=None) as client,
    ):
        answer = {"k": types.ElicitResult(action="accept", content={"share": True})}
        with pytest.raises(MCPError, match="Invalid or expired requestState"):  # bound to its caller
            await client.session.call_tool(
                "up.share", {"account": "acme"}, input_responses=answer, request_state=first.request_state
            )

    assert result.is_error is False
    assert [block.text for block in result.content if isinstance(block, types.TextContent)] == [
        "shared acme: True"
    ]
    assert len(asked) == 1 and EMAIL not in asked[0] and asked[0].startswith("Share the account acme of ")
