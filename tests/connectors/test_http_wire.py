"""What the HTTP connector puts on the wire and takes off it, against raw loopback upstreams:
the request head an upstream sees, compressed answers, and the HTTPS proxy with a private CA."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
import ssl
import zlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest
import trustme

from connectors import http1, outbound
from connectors.errors import UpstreamBadResponse, UpstreamUnreachable
from connectors.http.connector import HttpConnector
from tests.connectors.test_http_connector import call_once, make_config, simple_tool
from tests.llm.test_http1_hostile import ConnectProxy


class RawUpstream:
    """Answers every request with `answer(head)` and records each request head it read."""

    def __init__(self, answer: Callable[[bytes], bytes]) -> None:
        self.answer = answer
        self.heads: list[bytes] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    (
                        int(line.split(b":")[1])
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length:")
                    ),
                    0,
                )
                await reader.readexactly(length)
                self.heads.append(head)
                writer.write(self.answer(head))
                await writer.drain()
        writer.close()


def answer(body: bytes, *headers: str, status: str = "200 OK") -> bytes:
    lines = [f"HTTP/1.1 {status}", "content-type: application/json", f"content-length: {len(body)}", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


@contextlib.asynccontextmanager
async def raw_upstream(reply: Callable[[bytes], bytes]) -> AsyncIterator[tuple[RawUpstream, str]]:
    upstream = RawUpstream(reply)
    server = await asyncio.start_server(upstream.handle, "127.0.0.1", 0)
    try:
        yield upstream, f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    finally:
        server.close()


async def test_the_request_head_is_what_httpx_sent() -> None:
    async with raw_upstream(lambda head: answer(b'{"ok":true}')) as (upstream, url):
        config = make_config(url, simple_tool("t", "/v1/x y"), headers={"accept": "text/json"})
        async with HttpConnector(config) as connector:
            assert (await connector.call("t", {"q": "a b&c", "n": 1})).structured == {"ok": True}
            await connector.call("t", {"q": "Paris-1_a.b~", "n": True})
    lines = upstream.heads[0].decode().split("\r\n")
    assert lines[0] == "GET /v1/x%20y?q=a+b%26c&n=1 HTTP/1.1"
    assert upstream.heads[1].decode().split("\r\n")[0] == "GET /v1/x%20y?q=Paris-1_a.b~&n=true HTTP/1.1"
    headers = {line.split(":", 1)[0].lower(): line.split(":", 1)[1].strip() for line in lines[1:] if line}
    assert headers == {
        "host": url.removeprefix("http://"),
        "accept": "text/json",
        "accept-encoding": "gzip, deflate",
        "connection": "keep-alive",
        "user-agent": f"python-httpx/{httpx.__version__}",
    }


@pytest.mark.parametrize(
    ("encoding", "compress"),
    [
        ("gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("deflate", lambda data: zlib.compress(data)[2:-4]),  # raw deflate, as some servers send it
        ("gzip, identity", gzip.compress),
    ],
)
async def test_compressed_answers_are_decoded(encoding: str, compress: Callable[[bytes], bytes]) -> None:
    body = compress(b'{"data": "' + b"z" * 5000 + b'"}')
    async with raw_upstream(lambda head: answer(body, f"content-encoding: {encoding}")) as (_, url):
        async with HttpConnector(make_config(url, simple_tool("t", "/x"))) as connector:
            assert (await connector.call("t", {})).structured == {"data": "z" * 5000}
        async with HttpConnector(make_config(url, simple_tool("t", "/x"), max_response_bytes=1024)) as small:
            with pytest.raises(UpstreamBadResponse, match="1 KiB response limit"):
                await small.call("t", {})


async def test_a_body_that_does_not_decode_is_a_bad_response() -> None:
    async with raw_upstream(lambda head: answer(b"not gzip at all", "content-encoding: gzip")) as (_, url):
        with pytest.raises(UpstreamBadResponse, match=r"upstream 'test' sent an undecodable body \("):
            await call_once(url, "/x")


async def test_a_malformed_answer_is_unreachable_naming_host_and_port() -> None:
    async with raw_upstream(lambda head: b"HTTP/1.1 200 OK\r\ncontent-length: nope\r\n\r\n") as (_, url):
        with pytest.raises(UpstreamUnreachable) as caught:
            await call_once(url, "/x")
    where = url.removeprefix("http://")
    assert caught.value.message.startswith(f"upstream 'test' is unreachable: {where} broke the HTTP protocol")


async def test_connections_are_kept_alive_between_calls() -> None:
    connections: list[int] = []

    def reply(head: bytes) -> bytes:
        return answer(b"{}")

    upstream = RawUpstream(reply)

    async def counting(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        await upstream.handle(reader, writer)

    server = await asyncio.start_server(counting, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    async with HttpConnector(make_config(url, simple_tool("t", "/x"))) as connector:
        for _ in range(5):
            await connector.call("t", {})
    server.close()
    assert (len(upstream.heads), len(connections)) == (5, 1)


async def test_calls_go_through_the_https_proxy_trusting_the_bundle(tmp_path: Path) -> None:
    authority = trustme.CA()
    bundle = tmp_path / "corporate-ca.pem"
    authority.cert_pem.write_to_path(str(bundle))
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("localhost").configure_cert(server_context)
    upstream = RawUpstream(lambda head: answer(b'{"through": "tunnel"}'))
    https = await asyncio.start_server(upstream.handle, "127.0.0.1", 0, ssl=server_context)
    proxy = ConnectProxy()
    proxy_server = await asyncio.start_server(proxy.handle, "127.0.0.1", 0)
    proxy_url = f"http://127.0.0.1:{proxy_server.sockets[0].getsockname()[1]}"
    url = f"https://localhost:{https.sockets[0].getsockname()[1]}"
    try:
        outbound.configure(outbound.Outbound(https_proxy=proxy_url))
        async with HttpConnector(make_config(url, simple_tool("t", "/x"))) as untrusting:
            with pytest.raises(UpstreamUnreachable, match="CERTIFICATE_VERIFY_FAILED"):
                await untrusting.call("t", {})
        outbound.configure(outbound.Outbound(https_proxy=proxy_url, ca_bundle=bundle))
        async with HttpConnector(make_config(url, simple_tool("t", "/x"))) as connector:
            assert (await connector.call("t", {})).structured == {"through": "tunnel"}
        assert proxy.tunnels == [url.removeprefix("https://")] * 2
        assert b"host: " + url.removeprefix("https://").encode() in upstream.heads[0]
    finally:
        outbound.configure(outbound.Outbound())
        https.close()
        proxy_server.close()


async def test_the_pool_connects_to_the_checked_address_and_keeps_the_host_name() -> None:
    """The guard's address is where the connection goes (no resolving of the name), the Host
    header keeps the name, and a connection to an earlier address is not reused once the name
    resolves elsewhere."""
    connections: list[str] = []
    upstream = RawUpstream(lambda head: answer(b"{}"))

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(writer.get_extra_info("sockname")[0])
        await upstream.handle(reader, writer)

    first = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = first.sockets[0].getsockname()[1]
    second = await asyncio.start_server(handle, "127.0.0.2", port)
    pool = http1.Http1Pool(
        f"http://api.example.invalid:{port}", max_connections=4, connect_timeout=2, read_timeout=2
    )
    try:
        for address in ("127.0.0.1", "127.0.0.1", "127.0.0.2"):
            response = await pool.request("GET", "/x", {}, address=address)
            assert (response.status_code, await response.aread()) == (200, b"{}")
            await response.aclose()
    finally:
        await pool.aclose()
        first.close()
        second.close()
        await first.wait_closed()
        await second.wait_closed()
    assert connections == ["127.0.0.1", "127.0.0.2"]  # the second call reused the first connection
    assert len(upstream.heads) == 3
    assert all(f"host: api.example.invalid:{port}".encode() in head for head in upstream.heads)


@pytest.mark.parametrize(
    "body",
    [
        b'{"city":"Paris","n":[1,2.5,true],"t":"\xc3\xa9 \\u2028 \\"q\\""}',
        b'{"small":1e-7,"smaller":5e-05,"big":1e16,"huge":123456789012345678901234567890}',
        b'{"nothing":null,"nan":NaN,"inf":[Infinity,1e999]}',
    ],
)
async def test_the_result_text_is_what_json_writes(body: bytes) -> None:
    async with raw_upstream(lambda head: answer(body)) as (_, url):
        output = await call_once(url, "/x")
    value = json.loads(body)
    assert output.content[0]["text"] == json.dumps(value, ensure_ascii=False, separators=(",", ":"))


async def test_lone_surrogates_are_read_as_replacement_characters() -> None:
    """No UTF-8 exists for a lone surrogate: the result could not be written to the agent."""
    body = b'{"lone \\udbff":["a \\ud800 b","\\udfff",1],"pair":"\\ud83d\\ude00"}'
    async with raw_upstream(lambda head: answer(body)) as (_, url):
        output = await call_once(url, "/x")
    assert output.content[0]["text"] == '{"lone \ufffd":["a \ufffd b","\ufffd",1],"pair":"\U0001f600"}'


async def test_an_answer_cut_short_of_its_length_is_unreachable() -> None:
    async def cut_short(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(answer(b'{"a": 1}')[:-3].replace(b"content-length: 8", b"content-length: 80"))
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(cut_short, "127.0.0.1", 0)
    try:
        url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        with pytest.raises(UpstreamUnreachable, match="closed the connection mid-answer"):
            await call_once(url, "/x")
    finally:
        server.close()


@pytest.mark.parametrize(("size", "whole"), [(1024, True), (1025, False)])
async def test_an_answer_of_the_limit_is_read_and_one_byte_more_is_refused(size: int, whole: bool) -> None:
    body = json.dumps({"text": ""}).encode()
    body = json.dumps({"text": "x" * (size - len(body))}).encode()
    assert len(body) == size
    async with raw_upstream(lambda head: answer(body)) as (_, url):
        if whole:
            assert (await call_once(url, "/x", max_response_bytes=1024)).structured == json.loads(body)
        else:
            with pytest.raises(UpstreamBadResponse, match=r"more than the 1 KiB response limit"):
                await call_once(url, "/x", max_response_bytes=1024)
