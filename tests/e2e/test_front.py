"""The HTTP front (broker/front.py) answers the fast path's POSTs straight from the parser, as
uvicorn and the ASGI middleware would: the same bytes, keep-alive and pipelining, HTTP/1.0
and `Connection: close`, the concurrency limit, a client that leaves, graceful shutdown.
Raw sockets on loopback against real gateways and a real MCP upstream."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from mcp.server.mcpserver import MCPServer

from broker.app import create_app
from broker.demo.upstreams.serve import BackgroundServer
from tests.conftest import RunningGateway, start_gateway

META = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientInfo": {"name": "raw-front-test", "version": "1"},
    "io.modelcontextprotocol/clientCapabilities": {},
}


@dataclass
class Upstream:
    url: str = ""
    started: list[str] = field(default_factory=list)
    cancelled: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)


def upstream_app(state: Upstream) -> Any:
    server: MCPServer[Any] = MCPServer(name="front-upstream")

    @server.tool()
    def echo(text: str) -> str:
        """Says it back."""
        return f"echo: {text}"

    @server.tool()
    async def hang() -> str:
        """Waits until cancelled."""
        state.started.append("hang")
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            state.cancelled.set()
            raise
        return "finished"

    @server.tool()
    async def held() -> str:
        """Waits until the test releases it."""
        state.started.append("held")
        while not state.release.is_set():
            await asyncio.sleep(0.01)
        return "released"

    return server.streamable_http_app()


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    state = Upstream()
    with BackgroundServer(upstream_app(state)) as server:
        state.url = f"{server.url}/mcp"
        yield state


def register(gateway: RunningGateway, upstream: Upstream) -> str:
    connector = {"kind": "mcp", "name": "up", "transport": "http", "url": upstream.url}
    registered = gateway.admin.post("/admin/connectors", json={**connector, "allow_private_network": True})
    assert registered.status_code == 201, registered.text
    key = gateway.create_agent("front-bot")
    policy = {"name": "front", "agents": ["front-bot"], "allow": ["up.*"], "masking": {}}
    assert gateway.admin.post("/admin/policies", json={"policies": [policy]}).status_code == 200
    return key


@pytest.fixture
def key(gateway: RunningGateway, upstream: Upstream) -> str:
    return register(gateway, upstream)


def call(
    key: str | None,
    tool: str,
    arguments: dict[str, Any],
    *,
    request_id: str,
    version: str = "1.1",
    extra: str = "",
) -> bytes:
    """A raw tools/call as the SDK client sends it (2026-07-28, stateless)."""
    params = {"name": tool, "arguments": arguments, "_meta": META}
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params}).encode()
    head = (
        f"POST /mcp HTTP/{version}\r\nhost: 127.0.0.1\r\naccept: application/json, text/event-stream\r\n"
        f"content-type: application/json\r\nmcp-protocol-version: 2026-07-28\r\nmcp-method: tools/call\r\n"
        f"mcp-name: {tool}\r\nx-request-id: {request_id}\r\ncontent-length: {len(body)}\r\n{extra}"
    )
    if key is not None:
        head += f"authorization: Bearer {key}\r\n"
    return (head + "\r\n").encode() + body


@dataclass
class Reply:
    status: int
    head: list[bytes]
    body: bytes

    def header(self, name: bytes) -> bytes | None:
        return next(
            (line.split(b": ", 1)[1] for line in self.head if line.lower().startswith(name + b":")), None
        )


class Connection:
    def __init__(self, url: str) -> None:
        host, port = url.removeprefix("http://").split(":")
        self.sock = socket.create_connection((host, int(port)), timeout=30)
        self.buffer = b""

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def reply(self) -> Reply:
        while b"\r\n\r\n" not in self.buffer:
            self._more()
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        lines = head.split(b"\r\n")
        reply = Reply(int(lines[0].split()[1]), lines[1:], b"")
        length = int(reply.header(b"content-length") or 0)
        while len(self.buffer) < length:
            self._more()
        reply.body, self.buffer = self.buffer[:length], self.buffer[length:]
        return reply

    def closed(self) -> bool:
        """Whether the server closes the connection (with nothing more sent)."""
        with contextlib.suppress(ConnectionResetError):
            return self.sock.recv(1) == b""
        return True

    def _more(self) -> None:
        chunk = self.sock.recv(65536)
        assert chunk, "the server closed the connection"
        self.buffer += chunk

    def close(self) -> None:
        self.sock.close()


@contextlib.contextmanager
def connection(url: str) -> Iterator[Connection]:
    opened = Connection(url)
    try:
        yield opened
    finally:
        opened.close()


def raw_exchange(url: str, request: bytes) -> bytes:
    """Everything the server sends for `request` on a connection it closes (HTTP/1.0)."""
    with connection(url) as opened:
        opened.send(request)
        received = b""
        while chunk := opened.sock.recv(65536):
            received += chunk
        return received


def test_the_reply_is_what_the_asgi_path_writes_byte_for_byte(gateway: RunningGateway, key: str) -> None:
    """The same gateway app served by plain uvicorn (the fast path as ASGI middleware) and by
    the front: the same bytes but the date, for an answer, a JSON-RPC error and a refusal."""
    with BackgroundServer(create_app(gateway.settings), startup_timeout=30) as plain:
        requests = [
            call(key, "up.echo", {"text": "hi"}, request_id="same-1", version="1.0"),
            call(key, "up.nothing", {}, request_id="same-2", version="1.0"),
            call(None, "up.echo", {"text": "hi"}, request_id="same-3", version="1.0"),
            call("not-a-key", "up.echo", {"text": "hi"}, request_id="same-4", version="1.0"),
            call(key, "up.echo", {"text": "r\u00e9sum\u00e9 " * 20_000}, request_id="same-5", version="1.0"),
        ]
        for request in requests:
            front, asgi = raw_exchange(gateway.url, request), raw_exchange(plain.url, request)
            assert _undated(front) == _undated(asgi), (front, asgi)
            assert front.startswith((b"HTTP/1.1 200 ", b"HTTP/1.1 400 ", b"HTTP/1.1 401 "))
            assert b"\r\nserver: uvicorn\r\n" in front and b"\r\nconnection: close\r\n" in front


def _undated(reply: bytes) -> bytes:
    head, _, body = reply.partition(b"\r\n\r\n")
    return b"\r\n".join(line for line in head.split(b"\r\n") if not line.startswith(b"date: ")) + body


def test_keep_alive_and_pipelined_requests_are_answered_in_order(gateway: RunningGateway, key: str) -> None:
    with connection(gateway.url) as opened:
        opened.send(call(key, "up.echo", {"text": "one"}, request_id="first"))
        first = opened.reply()
        assert first.status == 200 and first.header(b"x-request-id") == b"first"
        assert first.header(b"date") is not None and first.header(b"connection") is None
        # Three at once: a fast-path call, the next one queued behind it, then a GET.
        opened.send(
            call(key, "up.echo", {"text": "two"}, request_id="second")
            + call(key, "up.echo", {"text": "three"}, request_id="third")
            + b"GET /healthz HTTP/1.1\r\nhost: 127.0.0.1\r\nx-request-id: fourth\r\n\r\n"
        )
        replies = [opened.reply() for _ in range(3)]
        assert [r.header(b"x-request-id") for r in replies] == [b"second", b"third", b"fourth"]
        assert [r.status for r in replies] == [200, 200, 200]
        texts = [json.loads(r.body)["result"]["content"][0]["text"] for r in replies[:2]]
        assert texts == ["echo: two", "echo: three"]
        # A big reply (head and body written apart), then a small one on the same connection.
        opened.send(call(key, "up.echo", {"text": "x" * 200_000}, request_id="big"))
        opened.send(call(key, "up.echo", {"text": "five"}, request_id="fifth"))
        big, fifth = opened.reply(), opened.reply()
        assert json.loads(big.body)["result"]["content"][0]["text"] == "echo: " + "x" * 200_000
        assert [big.header(b"x-request-id"), fifth.header(b"x-request-id")] == [b"big", b"fifth"]


def test_connection_close_and_http_10_end_the_connection(gateway: RunningGateway, key: str) -> None:
    for request in (
        call(key, "up.echo", {"text": "x"}, request_id="closing", extra="connection: close\r\n"),
        call(key, "up.echo", {"text": "x"}, request_id="old", version="1.0"),
    ):
        with connection(gateway.url) as opened:
            opened.send(request)
            reply = opened.reply()
            assert reply.status == 200 and reply.header(b"connection") == b"close"
            assert opened.closed()


def test_a_client_that_leaves_cancels_its_call(gateway: RunningGateway, key: str, upstream: Upstream) -> None:
    with connection(gateway.url) as opened:
        opened.send(call(key, "up.hang", {}, request_id="leaving"))
        _wait_for(lambda: "hang" in upstream.started)
    assert upstream.cancelled.wait(10), "the upstream call was not cancelled"


def test_beyond_the_concurrency_limit_requests_get_503(tmp_path: Path, upstream: Upstream) -> None:
    server, gateway = start_gateway(f"sqlite:///{tmp_path / 'limit.db'}", http_max_connections=4)
    try:
        key = register(gateway, upstream)
        idle = [Connection(gateway.url) for _ in range(4)]
        try:
            for opened in idle:
                opened.send(b"GET /heal")  # a head that does not end: the connection stays
            with connection(gateway.url) as opened:
                opened.send(call(key, "up.echo", {"text": "x"}, request_id="over"))
                assert opened.reply().status == 503
        finally:
            for opened in idle:
                opened.close()
        _wait_for(lambda: _answers(gateway.url, key) == 200)
    finally:
        gateway.admin.close()
        server.stop()


def _answers(url: str, key: str) -> int:
    with connection(url) as opened:
        opened.send(call(key, "up.echo", {"text": "x"}, request_id="under"))
        return opened.reply().status


def test_a_call_in_flight_at_shutdown_is_answered(tmp_path: Path, upstream: Upstream) -> None:
    server, gateway = start_gateway(f"sqlite:///{tmp_path / 'stop.db'}")
    key = register(gateway, upstream)
    gateway.admin.close()
    with connection(gateway.url) as opened:
        opened.send(call(key, "up.held", {}, request_id="in-flight"))
        _wait_for(lambda: "held" in upstream.started)
        stopping = threading.Thread(target=server.stop)
        stopping.start()
        _wait_for(lambda: not server.running or _refused(gateway.url))  # it accepts no new connection
        upstream.release.set()
        reply = opened.reply()
        stopping.join(30)
    assert reply.status == 200 and reply.header(b"connection") == b"close"
    assert json.loads(reply.body)["result"]["content"][0]["text"] == "released"


def _refused(url: str) -> bool:
    host, port = url.removeprefix("http://").split(":")
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError:
        return True
    return False


def _wait_for(condition: Any, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)
