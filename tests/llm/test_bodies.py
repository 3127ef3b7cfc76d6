"""/v1 bodies are bounded one by one and all together: refused on Content-Length before they
are read (413), and refused with 503 + Retry-After while the in-flight budget is spent."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable

import httpx

from tests.llm.conftest import LlmSetup

HELLO = [{"role": "user", "content": "hello"}]


def _open(setup: LlmSetup, path: str, length: int, extra: bytes = b"") -> socket.socket:
    host, port = setup.gateway.url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    sock.sendall(
        f"POST {path} HTTP/1.1\r\nhost: {host}\r\nauthorization: Bearer {setup.key}\r\n"
        f"content-type: application/json\r\ncontent-length: {length}\r\n\r\n".encode()
        + extra
    )
    return sock


def _answer(sock: socket.socket) -> tuple[int, dict[str, object]]:
    """Status and JSON body of one answer (chunked: one chunk and the last one)."""
    data = b""
    while not data.endswith(b"}") and not data.endswith(b"\r\n0\r\n\r\n"):
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    body = data[data.index(b"{") : data.rindex(b"}") + 1]
    return int(data.split(b" ", 2)[1]), json.loads(body)


def test_a_declared_length_over_the_limit_is_refused_before_the_body_is_sent(llm: LlmSetup) -> None:
    for path, kind in (
        ("/v1/chat/completions", "invalid_request_error"),
        ("/v1/messages", "request_too_large"),
    ):
        with _open(llm, path, 100 * 1024 * 1024) as sock:  # not one byte of the 100 MiB follows
            status, body = _answer(sock)
        assert status == 413
        error = body["error"]
        assert isinstance(error, dict) and error["type"] == kind
        assert "8 MiB, BROKER_LLM_MAX_REQUEST_BYTES" in str(error["message"])


def test_the_default_limit_refuses_a_20_mb_chat_body(llm: LlmSetup) -> None:
    big = {"model": "fast", "messages": [{"role": "user", "content": "x" * 20_000_000}]}
    answer = httpx.post(
        f"{llm.base_url}/chat/completions",
        content=json.dumps(big).encode(),
        headers={"Authorization": f"Bearer {llm.key}", "content-type": "application/json"},
        timeout=30,
    )
    assert answer.status_code == 413, answer.text

    def chunks() -> object:  # the same without a Content-Length: counted as it arrives
        yield b'{"model": "fast", "messages": [{"role": "user", "content": "'
        for _ in range(20):
            yield b"x" * 1_000_000

    streamed = httpx.post(
        f"{llm.base_url}/chat/completions", content=chunks(), headers={"Authorization": f"Bearer {llm.key}"}
    )
    assert streamed.status_code == 413, streamed.text


def test_bodies_in_flight_share_one_budget(make_llm: Callable[..., LlmSetup]) -> None:
    llm = make_llm(llm_max_request_bytes=400_000, llm_max_inflight_bytes=500_000)
    headers = {"Authorization": f"Bearer {llm.key}"}
    small = {"model": "fast", "messages": [{"role": "user", "content": "y" * 200_000}]}
    with _open(llm, "/v1/chat/completions", 400_000, b'{"model": "fast", "mess'):
        busy = httpx.post(f"{llm.base_url}/chat/completions", json=small, headers=headers, timeout=30)
        assert busy.status_code == 503, busy.text
        assert busy.headers["retry-after"] == "1" and "BROKER_LLM_MAX_INFLIGHT_BYTES" in busy.text
    served = httpx.post(f"{llm.base_url}/chat/completions", json=small, headers=headers, timeout=30)
    assert served.status_code == 200, served.text  # the holder's share came back when it left
    assert (
        httpx.post(
            f"{llm.base_url}/chat/completions", json={"model": "fast", "messages": HELLO}, headers=headers
        ).status_code
        == 200
    )
