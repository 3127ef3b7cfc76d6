"""The provider client against hostile or odd upstreams and corporate networks: header
injection is refused, interim answers skipped, malformed answers become provider errors (a
clean 502, or the fallback), and calls go through an HTTPS proxy with a private CA."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import trustme
from pydantic import ValidationError

from broker.llm.config import ProviderConfig
from connectors import outbound
from connectors.http1 import Http1Pool, ResponseTooLarge, UpstreamConnectionError
from connectors.netguard import outbound_transport
from tests.llm.conftest import LlmSetup
from tests.llm.test_http1 import pool, read_request, serve

OK = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}"
HELLO = [{"role": "user", "content": "hello"}]


def replying(answer: bytes) -> object:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            await read_request(reader)
            writer.write(answer)
            await writer.drain()
        writer.close()

    return handler


@pytest.mark.parametrize(
    "header",
    [
        ("x-note", "a\r\nx-evil: 1"),
        ("x-note", "a\nb"),
        ("x-note", "nul\0"),
        ("x-bad name", "v"),
        ("x-a\nx-b", "v"),
        ("x-a: b", "v"),
    ],
)
async def test_control_characters_in_headers_are_never_sent(header: tuple[str, str]) -> None:
    seen: list[bytes] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(asyncio.IncompleteReadError):
            seen.append((await read_request(reader))[0])
        writer.close()

    server, url = await serve(handler)
    client = pool(url)
    with pytest.raises(UpstreamConnectionError, match="refused to send"):
        await client.post("/chat/completions", dict([header]), b"{}")
    await client.aclose()
    server.close()
    assert seen == []


def test_provider_headers_with_line_breaks_are_refused_when_configured() -> None:
    base = {"name": "p", "kind": "openai", "base_url": "https://api.example.com/v1", "models": ["m"]}
    with pytest.raises(ValidationError, match="line break"):
        ProviderConfig.model_validate({**base, "headers": {"OpenAI-Organization": "org\r\nX-Evil: 1"}})
    with pytest.raises(ValidationError, match="control characters"):
        ProviderConfig.model_validate({**base, "base_url": "https://api.example.com/v1\r\nX: 1"})
    with pytest.raises(ValidationError, match="http://HOST:PORT"):
        ProviderConfig.model_validate({**base, "proxy": "socks5://proxy:1080"})


async def test_interim_answers_are_skipped() -> None:
    interim = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: </a>; rel=preload\r\n\r\n"
    server, url = await serve(replying(interim + OK))  # type: ignore[arg-type]
    client = pool(url)
    response = await client.post("/chat/completions", {}, b"{}")
    assert (response.status_code, await response.aread()) == (200, b"{}")
    await response.aclose()
    await client.aclose()
    server.close()


MALFORMED = {
    "content-length": b"HTTP/1.1 200 OK\r\ncontent-length: abc\r\n\r\n{}",
    "two content-lengths": b"HTTP/1.1 200 OK\r\ncontent-length: 2, 3\r\n\r\n{}",
    "status line": b"HTTP/1.1 OK\r\ncontent-length: 2\r\n\r\n{}",
    "not http": b"SSH-2.0-OpenSSH_9.2\r\n\r\n",
    "switching protocols": b"HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\n\r\n",
    "chunk size": b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
    "truncated body": b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n{}",
    "truncated chunks": b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n10\r\n{}",
}


async def failure(answer: bytes, read_timeout: float | None) -> UpstreamConnectionError:
    server, url = await serve(replying(answer))  # type: ignore[arg-type]
    client = Http1Pool(url, max_connections=1, connect_timeout=2, read_timeout=read_timeout)
    with pytest.raises(UpstreamConnectionError) as failed:
        response = await client.post("/chat/completions", {}, b"{}")
        try:
            await response.aread()
        finally:
            await response.aclose()
    await client.aclose()
    server.close()
    return failed.value


@pytest.mark.parametrize("answer", MALFORMED.values(), ids=MALFORMED.keys())
async def test_every_malformed_answer_is_a_connection_error(answer: bytes) -> None:
    error = await failure(answer, 2)

    unbounded = await failure(answer, None)  # the caller bounds the whole exchange: the same error
    assert (type(unbounded), str(unbounded)) == (type(error), str(error))


@contextlib.contextmanager
def raw_upstream(answer: bytes) -> Iterator[str]:
    """A provider on loopback that answers every request with `answer` and closes."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()

    def run() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(2)
                with contextlib.suppress(OSError):
                    conn.recv(65536)
                    conn.sendall(answer)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join()
        listener.close()


def test_through_the_gateway_a_malformed_answer_is_a_502_or_the_fallback(llm: LlmSetup) -> None:
    with raw_upstream(MALFORMED["content-length"]) as url:
        broken = {"name": "broken", "kind": "openai", "base_url": f"{url}/v1", "models": ["mock-small"],
                  "max_retries": 0}  # fmt: skip
        routes = [
            {"name": "only-broken", "targets": ["broken/mock-small"]},
            {"name": "with-fallback", "targets": ["broken/mock-small", "mock/mock-small"]},
        ]
        llm.apply({"providers": [broken], "models": routes})
        headers = {"Authorization": f"Bearer {llm.key}"}
        answer = httpx.post(
            f"{llm.base_url}/chat/completions",
            json={"model": "only-broken", "messages": HELLO},
            headers=headers,
        )
        assert answer.status_code == 502, answer.text
        assert "provider 'broken'" in answer.json()["error"]["message"]
        assert "Content-Length" in answer.json()["error"]["message"]
        served = llm.openai().chat.completions.create(model="with-fallback", messages=HELLO)
        assert served.choices[0].message.content


# --- corporate network: an HTTPS proxy (CONNECT) and a private CA --------------------------


class ConnectProxy:
    """A small HTTP CONNECT proxy on loopback that records the tunnels it opened."""

    def __init__(self) -> None:
        self.tunnels: list[str] = []
        self.auth: list[str] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
        method, authority, _ = head.split(" ", 2)
        if method != "CONNECT":
            writer.write(b"HTTP/1.1 405 Method Not Allowed\r\ncontent-length: 0\r\n\r\n")
            writer.close()
            return
        self.tunnels.append(authority)
        self.auth += [line for line in head.split("\r\n") if line.lower().startswith("proxy-authorization")]
        host, port = authority.rsplit(":", 1)
        up_reader, up_writer = await asyncio.open_connection(host, int(port))
        writer.write(b"HTTP/1.1 200 Connection Established\r\n\r\n")

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError):
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            sink.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


@pytest.fixture
def ca(tmp_path: Path) -> Iterator[tuple[trustme.CA, Path]]:
    authority = trustme.CA()
    bundle = tmp_path / "corporate-ca.pem"
    authority.cert_pem.write_to_path(str(bundle))
    yield authority, bundle
    outbound.configure(outbound.Outbound())


async def test_provider_and_connector_calls_go_through_the_proxy_trusting_the_bundle(
    ca: tuple[trustme.CA, Path],
) -> None:
    authority, bundle = ca
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("localhost").configure_cert(server_context)

    async def https_handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            await read_request(reader)
            writer.write(OK)
            await writer.drain()
        writer.close()

    upstream = await asyncio.start_server(https_handler, "127.0.0.1", 0, ssl=server_context)
    port = upstream.sockets[0].getsockname()[1]
    proxy = ConnectProxy()
    proxy_server = await asyncio.start_server(proxy.handle, "127.0.0.1", 0)
    proxy_url = f"http://user:p%40ss@127.0.0.1:{proxy_server.sockets[0].getsockname()[1]}"
    url = f"https://localhost:{port}/v1"

    # Without the bundle the private CA is not trusted.
    outbound.configure(outbound.Outbound(https_proxy=proxy_url))
    untrusting = pool(url)
    with pytest.raises(UpstreamConnectionError, match="CERTIFICATE_VERIFY_FAILED"):
        await untrusting.post("/chat/completions", {}, b"{}")

    outbound.configure(outbound.Outbound(https_proxy=proxy_url, ca_bundle=bundle))
    client = pool(url)
    response = await client.post("/chat/completions", {}, b"{}")
    assert (response.status_code, await response.aread()) == (200, b"{}")
    await response.aclose()
    await client.aclose()
    assert proxy.tunnels == [f"localhost:{port}", f"localhost:{port}"]
    assert proxy.auth and proxy.auth[-1].endswith("dXNlcjpwQHNz")  # user:p@ss

    # A per-provider override ("" = direct) and NO_PROXY both bypass it.
    direct = Http1Pool(url, max_connections=1, connect_timeout=2, read_timeout=2, proxy="")
    await (await direct.post("/chat/completions", {}, b"{}")).aclose()
    outbound.configure(outbound.Outbound(https_proxy=proxy_url, no_proxy=("localhost",), ca_bundle=bundle))
    await (await pool(url).post("/chat/completions", {}, b"{}")).aclose()
    assert len(proxy.tunnels) == 2

    # The httpx transports of connectors (HTTP, OpenAPI, OAuth) take the same path.
    outbound.configure(outbound.Outbound(https_proxy=proxy_url, ca_bundle=bundle))
    async with httpx.AsyncClient(transport=outbound_transport(True)) as http:
        answer = await http.post(f"{url}/chat/completions", content=b"{}")
    assert answer.json() == {} and len(proxy.tunnels) == 3
    upstream.close()
    proxy_server.close()


def test_a_bad_proxy_or_bundle_is_refused_with_its_name(tmp_path: Path) -> None:
    with pytest.raises(outbound.OutboundConfigError, match="http://HOST:PORT"):
        outbound.Outbound(https_proxy="https://proxy.corp:3128")
    missing = tmp_path / "nope.pem"
    with pytest.raises(outbound.OutboundConfigError, match=r"nope\.pem"):
        outbound.Outbound(ca_bundle=missing)
    rules = outbound.Outbound(https_proxy="http://p:3128", no_proxy=("corp.example", ".int", "10.0.0.0/8"))
    hosts = ("a.corp.example", "x.int", "10.1.2.3", "api.openai.com")
    assert [rules.proxy_for("https", host) for host in hosts] == [None, None, None, "http://p:3128"]
    assert rules.proxy_for("http", "api.openai.com") is None


def endless(head: bytes) -> object:
    """An upstream that answers 200 with `head` and then sends body bytes until the client leaves."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            await read_request(reader)
            writer.write(head)
            for _ in range(1000):
                writer.write(b"x" * 4096)
                await writer.drain()
        writer.close()

    return handler


@pytest.mark.parametrize(
    "head",
    [
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 4096000\r\n\r\n",
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\nfffffff\r\n",
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n",
    ],
    ids=["content-length", "one-huge-chunk", "until-close"],
)
@pytest.mark.parametrize("read_timeout", [5, None], ids=["read-bounded", "exchange-bounded"])
async def test_an_answer_larger_than_the_cap_is_cut_off(head: bytes, read_timeout: float | None) -> None:
    server, url = await serve(endless(head))  # type: ignore[arg-type]
    client = Http1Pool(
        url, max_connections=1, connect_timeout=2, read_timeout=read_timeout, max_body_bytes=64_000
    )
    response = await client.post("/chat/completions", {}, b"{}")
    assert response.status_code == 200
    with pytest.raises(ResponseTooLarge):
        await response.aread()
    await response.aclose()
    await client.aclose()
    server.close()
