"""A quiet caller's tools/call on a 2026-07-28 session skips the SDK's request layers
(connectors/mcp/quiet.py) and hands every outcome but a plain result to the SDK: whatever the
upstream answers, the caller gets what a caller served by the SDK's own path gets."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Annotated, Any

import pytest
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.resolve import Elicit, Resolve
from pydantic import BaseModel

from broker.demo.upstreams.serve import BackgroundServer
from connectors.base import CallContext, SilentChannel, ToolOutput
from connectors.errors import ConnectorError
from connectors.mcp import McpConnector, McpConnectorConfig, prepare_mcp

pytestmark = pytest.mark.filterwarnings("ignore::mcp.shared.exceptions.MCPDeprecationWarning")


class Consent(BaseModel):
    share: bool


class Reading(BaseModel):
    celsius: float
    station: str


def ask(account: str) -> Elicit[Consent]:
    return Elicit(f"Share the account {account}?", Consent)


def upstream_app() -> Any:
    server: MCPServer[Any] = MCPServer(name="outcomes")

    @server.tool()
    async def share(account: str, consent: Annotated[Consent, Resolve(ask)]) -> str:
        """Asks the user first: an input-required result at 2026-07-28."""
        return f"shared {account}: {consent.share}"

    @server.tool()
    async def reading(station: str) -> Reading:
        """Structured content checked against its output schema."""
        return Reading(celsius=11.5, station=station)

    @server.tool()
    async def broken(station: str) -> str:
        """A tool error."""
        raise ValueError(f"station {station} is offline")

    return server.streamable_http_app()


class Listening(SilentChannel):
    """A caller that wants progress: its calls take the SDK's own path."""

    wants_progress = True


QUIET = CallContext(channel=SilentChannel())
LISTENING = CallContext(channel=Listening())


@pytest.fixture
def url() -> Iterator[str]:
    with BackgroundServer(upstream_app()) as upstream:
        yield f"{upstream.url}/mcp"


@pytest.fixture
async def connector(url: str) -> AsyncIterator[McpConnector]:
    raw = {"kind": "mcp", "name": "up", "transport": "http", "url": url, "allow_private_network": True}
    async with McpConnector(await prepare_mcp(McpConnectorConfig.model_validate(raw))) as connector:
        yield connector


async def outcome(connector: McpConnector, tool: str, arguments: dict[str, Any], context: CallContext) -> Any:
    try:
        output: ToolOutput = await connector.call(tool, arguments, context)
    except ConnectorError as exc:
        return type(exc).__name__, exc.message
    return output.content, output.structured, output.is_error, output.meta


@pytest.mark.parametrize(
    ("tool", "arguments"),
    [("reading", {"station": "north"}), ("broken", {"station": "south"}), ("share", {"account": "acme"})],
)
async def test_a_quiet_caller_gets_what_the_sdk_path_gives(
    connector: McpConnector, tool: str, arguments: dict[str, Any]
) -> None:
    quiet = await outcome(connector, tool, arguments, QUIET)
    assert quiet == await outcome(connector, tool, arguments, LISTENING)
    if tool == "reading":
        assert quiet[1] == {"celsius": 11.5, "station": "north"} and quiet[2] is False
    if tool == "broken":
        assert quiet[2] is True and "broken" in str(quiet[0])
    if tool == "share":  # the upstream asks the user; this caller cannot answer: a clear error
        assert quiet[0] == "UpstreamError" and "elicitation" in quiet[1]
