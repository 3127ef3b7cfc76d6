"""A quiet caller's tools/call on a 2026-07-28 session skips the SDK's request layers
(connectors/mcp/quiet.py) and hands every outcome but a plain result to the SDK: whatever the
upstream answers, the caller gets what a caller served by the SDK's own path gets."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Annotated, Any

import pytest
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.resolve import Elicit, Resolve
from opentelemetry.sdk.trace import TracerProvider
from pydantic import BaseModel
from starlette.types import ASGIApp, Message, Receive, Scope, Send

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


class Recorded:
    """The upstream app, keeping the JSON-RPC body of every POST it reads."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.bodies: list[dict[str, Any]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        chunks: list[bytes] = []

        async def recorded() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False) and scope["method"] == "POST":
                    self.bodies.append(json.loads(b"".join(chunks)))
            return message

        await self.app(scope, recorded, send)


async def test_a_quiet_call_carries_the_current_trace_context_and_no_other() -> None:
    recorded = Recorded(upstream_app())
    with BackgroundServer(recorded) as upstream:
        raw = {"kind": "mcp", "name": "up", "transport": "http", "url": f"{upstream.url}/mcp"}
        config = await prepare_mcp(McpConnectorConfig.model_validate(raw | {"allow_private_network": True}))
        async with McpConnector(config) as connector:
            await connector.call("reading", {"station": "north"}, QUIET)
            with TracerProvider().get_tracer("test").start_as_current_span("call") as span:
                await connector.call("reading", {"station": "east"}, QUIET)
    calls = [body["params"] for body in recorded.bodies if body.get("method") == "tools/call"]
    assert [params["arguments"]["station"] for params in calls] == ["north", "east"]
    assert "traceparent" not in calls[0]["_meta"]
    trace_id = format(span.get_span_context().trace_id, "032x")
    assert calls[1]["_meta"]["traceparent"].split("-")[1] == trace_id
