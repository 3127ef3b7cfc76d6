"""A quiet caller's tools/call on a 2026-07-28 session is posted lean (connectors/mcp/lean.py):
the answer is read as JSON or as SSE up to the response, what else the stream brings is
dropped or handed to the session as the SDK would."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import pytest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from broker.demo.upstreams.serve import BackgroundServer
from connectors.mcp import McpConnector
from tests.connectors.mcp.conftest import Upstream
from tests.connectors.mcp.upstream import Catalog, create_app

NOTICES = [
    {"jsonrpc": "2.0", "method": "notifications/message", "params": {"level": "error", "data": "unasked"}},
    {"jsonrpc": "2.0", "method": "notifications/progress", "params": {"progressToken": 7, "progress": 1}},
    {"jsonrpc": "2.0", "method": "notifications/tools/list_changed"},
]


class Reshaped:
    """Answers each tools/call as `shape` says: "json" (the response alone, as application/json)
    or "events" (SSE: the NOTICES first, then the response)."""

    def __init__(self, app: ASGIApp, shape: str) -> None:
        self.app = app
        self.shape = shape

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        sent: list[Message] = []
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:  # the request was read: what follows is the client going away
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def keep(message: Message) -> None:
            sent.append(message)

        if json.loads(body).get("method") != "tools/call":  # listings, the listen stream: as they are
            await self.app(scope, replay, send)
            return
        await self.app(scope, replay, keep)
        answer = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
        data = [line[5:].strip() for line in answer.decode().splitlines() if line.startswith("data:")]
        response = data[-1] if data else answer.decode()  # the SDK's server answered SSE or JSON
        if self.shape == "json":
            content, media = response.encode(), b"application/json"
        else:
            events = [*(json.dumps(n) for n in NOTICES), response]
            content = "".join(f"event: message\r\ndata: {e}\r\n\r\n" for e in events).encode()
            media = b"text/event-stream"
        headers = [(b"content-type", media), (b"content-length", str(len(content)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": content})


@pytest.fixture(params=["json", "events"])
def reshaped(request: pytest.FixtureRequest) -> Iterator[tuple[Upstream, str]]:
    catalog = Catalog()
    with BackgroundServer(Reshaped(create_app(catalog), request.param)) as server:
        yield Upstream(catalog, server.url, "modern"), request.param


async def test_a_call_is_answered_and_a_list_change_on_its_stream_is_followed(
    reshaped: tuple[Upstream, str],
) -> None:
    upstream, shape = reshaped
    async with McpConnector(await upstream.prepared(recheck_seconds=3600)) as connector:
        output = await connector.call("echo", {"text": "héllo"})
        listed = upstream.catalog.listings
        assert output.content == [{"type": "text", "text": "héllo"}]
        assert output.structured == {"text": "héllo", "length": 5}
        assert output.is_error is False
        if shape == "events":  # the list_changed on the call's stream: listed again, in the background
            async with asyncio.timeout(10):
                while upstream.catalog.listings == listed:
                    await asyncio.sleep(0.02)
        failed = await connector.call("fail", {})
        assert failed.is_error is True and failed.content == [{"type": "text", "text": "it broke"}]
