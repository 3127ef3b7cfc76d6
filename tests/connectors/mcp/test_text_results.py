"""A quiet caller's plain result of text blocks is read without the SDK's models
(`quiet.text_result`); every shape of result, inside that case or just outside it, gives the
caller what the SDK's own path gives."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from mcp.server.mcpserver import MCPServer
from pydantic import BaseModel
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from broker.demo.upstreams.serve import BackgroundServer
from connectors.base import CallContext, SilentChannel, ToolOutput
from connectors.errors import ConnectorError
from connectors.mcp import McpConnector, McpConnectorConfig, prepare_mcp

pytestmark = pytest.mark.filterwarnings("ignore::mcp.shared.exceptions.MCPDeprecationWarning")

TEXT = {"type": "text", "text": "ten days of rain"}
SHAPES: dict[str, dict[str, Any]] = {
    "text": {"content": [TEXT], "resultType": "complete"},
    "error": {"content": [TEXT], "isError": True, "resultType": "complete"},
    "stamped": {
        "content": [TEXT],
        "isError": False,
        "resultType": "complete",
        "_meta": {"io.modelcontextprotocol/serverInfo": {"name": "up", "version": "1"}, "x/trace": [1]},
    },
    "structured": {"content": [TEXT], "structuredContent": {"days": 10}, "resultType": "complete"},
    "structured_list": {"content": [TEXT], "structuredContent": [1, 2.5, None], "resultType": "complete"},
    "structured_null": {"content": [TEXT], "structuredContent": None, "resultType": "complete"},
    "big_integers": {
        "content": [TEXT],
        "structuredContent": {"id": 2**70 + 1, "low": -(2**63) - 1},
        "resultType": "complete",
    },
    "big": {"content": [{"type": "text", "text": '"r\u00e9cord" ' * 50_000}], "resultType": "complete"},
    "big_integers_big": {
        "content": [{"type": "text", "text": "x" * 600_000}],
        "structuredContent": {"id": 2**70 + 1},
        "resultType": "complete",
    },
    "empty": {"content": [], "resultType": "complete"},
    "many": {
        "content": [{"text": 'ünïcode 🙂 "q" \\ \n', "type": "text"}, TEXT, {"type": "text", "text": ""}],
        "resultType": "complete",
    },
    "meta_null": {"content": [TEXT], "_meta": None, "resultType": "complete"},
    # just outside the case: the models read these
    "annotated": {"content": [{**TEXT, "annotations": {"priority": 0.5}}], "resultType": "complete"},
    "block_extra": {"content": [{**TEXT, "extra": 1}], "resultType": "complete"},
    "block_meta": {"content": [{**TEXT, "_meta": {"k": "v"}}], "resultType": "complete"},
    "image": {
        "content": [{"type": "image", "data": "aGk=", "mimeType": "image/png"}],
        "resultType": "complete",
    },
    "extra_key": {"content": [TEXT], "resultType": "complete", "other": True},
    "ttl": {"content": [TEXT], "resultType": "complete", "ttlMs": -5},
    "error_null": {"content": [TEXT], "isError": None, "resultType": "complete"},
    "error_text": {"content": [TEXT], "isError": "true", "resultType": "complete"},
    "untyped": {"content": [TEXT]},
    "other_type": {"content": [TEXT], "resultType": "partial"},
    "text_number": {"content": [{"type": "text", "text": 7}], "resultType": "complete"},
    "content_object": {"content": TEXT, "resultType": "complete"},
    "no_content": {"resultType": "complete"},
    "meta_list": {"content": [TEXT], "_meta": [1], "resultType": "complete"},
}


class Reading(BaseModel):
    days: int


def upstream_app() -> ASGIApp:
    server: MCPServer[Any] = MCPServer(name="shapes")

    @server.tool(structured_output=False)
    async def plain(shape: str) -> str:
        """No output schema."""
        return shape

    @server.tool()
    async def typed(shape: str) -> Reading:
        """An output schema: its results are checked against it."""
        return Reading(days=1)

    return Reshape(server.streamable_http_app())


class Reshape:
    """Answers each tools/call (as JSON) with the result SHAPES names in its `shape` argument."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        request = json.loads(body)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:  # the request was read: what follows is the client going away
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        if request.get("method") != "tools/call":
            await self.app(scope, replay, send)
            return
        result = SHAPES[request["params"]["arguments"]["shape"]]
        content = json.dumps({"jsonrpc": "2.0", "id": request["id"], "result": result}).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(content)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": content})


class Listening(SilentChannel):
    """A caller that wants progress: its calls take the SDK's own path."""

    wants_progress = True


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with BackgroundServer(upstream_app()) as upstream:
        yield f"{upstream.url}/mcp"


@pytest.fixture
async def connector(url: str) -> AsyncIterator[McpConnector]:
    raw = {"kind": "mcp", "name": "up", "transport": "http", "url": url, "allow_private_network": True}
    async with McpConnector(await prepare_mcp(McpConnectorConfig.model_validate(raw))) as connector:
        yield connector


async def outcome(connector: McpConnector, tool: str, shape: str, channel: SilentChannel) -> Any:
    try:
        output: ToolOutput = await connector.call(tool, {"shape": shape}, CallContext(channel=channel))
    except ConnectorError as exc:
        return type(exc).__name__, exc.message
    return output.content, output.structured, output.is_error, output.meta


@pytest.mark.parametrize("tool", ["plain", "typed"])
@pytest.mark.parametrize("shape", sorted(SHAPES))
async def test_every_shape_gives_what_the_sdk_path_gives(
    connector: McpConnector, tool: str, shape: str
) -> None:
    quiet = await outcome(connector, tool, shape, SilentChannel())

    sdk = await outcome(connector, tool, shape, Listening())
    assert quiet == sdk and repr(quiet) == repr(sdk)  # an integer stays one (2**70 + 1 == its float)
    if tool == "plain" and shape in ("text", "stamped", "many", "structured_list", "meta_null"):
        content, structured, is_error, meta = quiet
        assert content == [
            {"type": "text", "text": block["text"]} for block in SHAPES[shape]["content"]
        ] and list(content[0]) == ["type", "text"]
        assert structured == SHAPES[shape].get("structuredContent") and is_error is False
        assert meta == (SHAPES[shape].get("_meta") or {})
    if tool == "typed" and shape == "text":  # an output schema and no structured content
        assert quiet[0] == "UpstreamBadResponse" and "did not return structured content" in quiet[1]
