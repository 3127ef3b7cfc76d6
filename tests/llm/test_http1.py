"""The lean HTTP/1.1 client, against scripted servers on loopback (and TLS with a fresh cert)."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import ssl
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from connectors.http1 import Http1Pool, UpstreamConnectionError, UpstreamTimeout
from tests.conftest import free_port

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def read_request(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        (
            int(line.split(b":")[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length")
        ),
        0,
    )
    return head, await reader.readexactly(length)


async def serve(handler: Handler, ssl_context: ssl.SSLContext | None = None) -> tuple[asyncio.Server, str]:
    server = await asyncio.start_server(handler, "127.0.0.1", 0, ssl=ssl_context)
    port = server.sockets[0].getsockname()[1]
    return server, f"{'https' if ssl_context else 'http'}://127.0.0.1:{port}/v1"


def pool(url: str, **options: float) -> Http1Pool:
    return Http1Pool(
        url, max_connections=4, connect_timeout=options.get("connect", 2), read_timeout=options.get("read", 2)
    )


async def test_content_length_and_keep_alive_reuse() -> None:
    connections = 0
    seen: list[bytes] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        while not reader.at_eof():
            try:
                head, body = await read_request(reader)
            except asyncio.IncompleteReadError:
                break
            seen.append(head + body)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}")
        writer.close()

    server, url = await serve(handler)
    client = Http1Pool(
        url, max_connections=4, connect_timeout=2, read_timeout=2, query={"api-version": "1 2"}
    )
    for _ in range(3):
        response = await client.post("/chat/completions", {"authorization": "Bearer k"}, b'{"a":1}')
        assert (response.status_code, response.headers["content-type"], await response.aread()) == (
            200, "application/json", b"{}",
        )  # fmt: skip
        await response.aclose()
    assert connections == 1
    assert seen[0].startswith(b"POST /v1/chat/completions?api-version=1+2 HTTP/1.1\r\n")
    assert b"\r\nauthorization: Bearer k\r\n" in seen[0] and seen[0].endswith(b'\r\n\r\n{"a":1}')
    await client.aclose()
    server.close()


async def test_chunked_bodies_arrive_chunk_by_chunk() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        for event in (b"data: 1\n\n", b"data: 2\n\n"):
            writer.write(b"%x\r\n%s\r\n" % (len(event), event))
            await writer.drain()
            await asyncio.sleep(0.05)
        writer.write(b"0\r\n\r\n")
        await writer.drain()

    server, url = await serve(handler)
    client = pool(url)
    response = await client.post("/x", {}, b"")
    chunks = [chunk async for chunk in response.aiter_bytes()]
    assert chunks == [b"data: 1\n\n", b"data: 2\n\n"]
    await response.aclose()
    await client.aclose()
    server.close()


async def test_a_stale_idle_connection_is_replaced_without_failing_the_call() -> None:
    requests = 0

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal requests
        await read_request(reader)
        requests += 1
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()
        writer.close()  # keep-alive advertised, but the server hangs up once idle

    server, url = await serve(handler)
    client = pool(url)
    for _ in range(3):
        response = await client.post("/x", {}, b"")
        assert await response.aread() == b"ok"
        await response.aclose()
        await asyncio.sleep(0.05)
    assert requests == 3
    await client.aclose()
    server.close()


async def test_a_body_read_to_the_close_and_a_connection_close_are_not_reused() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.0 200 OK\r\n\r\nuntil the end")
        await writer.drain()
        writer.close()

    server, url = await serve(handler)
    client = pool(url)
    response = await client.post("/x", {}, b"")
    assert await response.aread() == b"until the end"
    await response.aclose()
    assert client._idle == []
    await client.aclose()
    server.close()


async def test_timeouts_and_unreachable_servers() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        await asyncio.sleep(5)

    server, url = await serve(silent)
    with pytest.raises(UpstreamTimeout):
        await pool(url, read=0.2).post("/x", {}, b"")
    server.close()
    with pytest.raises(UpstreamConnectionError):
        await pool(f"http://127.0.0.1:{free_port()}").post("/x", {}, b"")

    async def stalls_mid_body(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
        await writer.drain()
        await asyncio.sleep(5)

    server, url = await serve(stalls_mid_body)
    response = await pool(url, read=0.2).post("/x", {}, b"")
    with pytest.raises(UpstreamTimeout):
        await response.aread()
    await response.aclose()
    server.close()


async def test_connection_slots_are_bounded_and_given_back() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                await read_request(reader)
            except asyncio.IncompleteReadError:
                return
            await asyncio.sleep(0.05)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx")

    server, url = await serve(handler)
    client = Http1Pool(url, max_connections=2, connect_timeout=2, read_timeout=2)

    async def call() -> bytes:
        response = await client.post("/x", {}, b"")
        try:
            return await response.aread()
        finally:
            await response.aclose()

    started = asyncio.get_running_loop().time()
    assert await asyncio.gather(*(call() for _ in range(6))) == [b"x"] * 6
    assert asyncio.get_running_loop().time() - started >= 0.15  # three rounds of two
    assert len(client._idle) == 2
    await client.aclose()
    server.close()


@pytest.fixture
def tls_files(tmp_path: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


async def test_tls_verifies_the_certificate(tls_files: tuple[Path, Path]) -> None:
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(*tls_files)

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecret")
        await writer.drain()

    server, url = await serve(handler, server_context)
    untrusted = pool(url)
    with pytest.raises(UpstreamConnectionError):
        await untrusted.post("/x", {}, b"")
    trusted = pool(url)
    trusted._ssl = ssl.create_default_context(cafile=str(tls_files[0]))
    response = await trusted.post("/x", {}, b"")
    assert await response.aread() == b"secret"
    await response.aclose()
    await trusted.aclose()
    server.close()
