"""Slow and hostile clients are cut off while everyone else is served: half-open requests,
trickled heads, oversized heads and bodies that never arrive."""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import ADMIN_TOKEN, RunningGateway, start_gateway

HALF_OPEN = 300


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[RunningGateway]:
    server, running = start_gateway(
        f"sqlite:///{tmp_path / 'b.db'}",
        http_header_timeout_seconds=1.0,
        http_body_timeout_seconds=1.0,
        http_max_head_bytes=8192,
    )
    try:
        yield running
    finally:
        running.admin.close()
        server.stop()


def _connect(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    return sock


def _until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (a timeout fails the test)."""
    received = b""
    with contextlib.suppress(ConnectionResetError):
        while chunk := sock.recv(65536):
            received += chunk
    return received


def _one_response(sock: socket.socket) -> bytes:
    """One whole response (its head and its body may arrive in separate segments)."""
    received = b""
    while b"\r\n\r\n" not in received:
        received += sock.recv(65536)
    head, _, body = received.partition(b"\r\n\r\n")
    lines = head.lower().split(b"\r\n")
    length = next(int(line[15:]) for line in lines if line.startswith(b"content-length:"))
    while len(body) < length:
        body += sock.recv(65536)
    return head + b"\r\n\r\n" + body


def test_half_open_connections_are_closed_and_others_still_served(gateway: RunningGateway) -> None:
    sockets = [_connect(gateway.url) for _ in range(HALF_OPEN)]
    try:
        for sock in sockets:
            sock.sendall(b"GET /heal")  # a request line that never ends
        trickler = _connect(gateway.url)
        with httpx.Client(base_url=gateway.url, timeout=10) as client:
            for _ in range(15):  # one byte at a time keeps no connection alive past the deadline
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # closed already
                    trickler.sendall(b"G")
                assert client.get("/healthz").status_code == 200
                time.sleep(0.1)
        answers = [_until_closed(sock) for sock in sockets]
        _until_closed(trickler)
        trickler.close()
    finally:
        for sock in sockets:
            sock.close()
    assert all(answer.startswith(b"HTTP/1.1 408 ") for answer in answers), {a[:40] for a in answers}


def test_a_kept_alive_connection_gets_the_same_deadline_for_its_next_request(gateway: RunningGateway) -> None:
    with _connect(gateway.url) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n")
        assert _one_response(sock).startswith(b"HTTP/1.1 200 ")
        sock.sendall(b"GET /healthz HTTP/1.1\r\nhost: 127.")  # the next head never completes
        assert _until_closed(sock).startswith(b"HTTP/1.1 408 ")


def test_an_idle_kept_alive_connection_gets_408_when_the_head_deadline_is_the_shorter(
    gateway: RunningGateway,
) -> None:
    """Header timeout 1 s, keep-alive 5 s: nothing sent after a response is a head that is late."""
    with _connect(gateway.url) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n")
        assert _one_response(sock).startswith(b"HTTP/1.1 200 ")
        assert _until_closed(sock).startswith(b"HTTP/1.1 408 ")


def test_an_oversized_head_is_refused(gateway: RunningGateway) -> None:
    with _connect(gateway.url) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nhost: 127.0.0.1\r\nx-filler: " + b"a" * 20_000)
        assert _until_closed(sock).startswith(b"HTTP/1.1 431 ")


def test_a_body_that_never_arrives_is_cut_off(gateway: RunningGateway) -> None:
    with _connect(gateway.url) as sock:
        sock.sendall(
            b"POST /admin/agents HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
            b"authorization: Bearer " + ADMIN_TOKEN.encode() + b'\r\ncontent-length: 100\r\n\r\n{"na'
        )
        _until_closed(sock)  # closed by the server: recv() returned instead of timing out
    assert gateway.admin.get("/healthz").status_code == 200
