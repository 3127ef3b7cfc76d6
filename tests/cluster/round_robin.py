"""A load balancer without stickiness, for clients the tests run as other processes: each
request goes to the next instance in turn; responses stream back chunk by chunk (SSE too)."""

from __future__ import annotations

import httpx
from starlette.types import Receive, Scope, Send

_HOP_BY_HOP = {b"connection", b"keep-alive", b"transfer-encoding", b"content-length", b"host"}


class RoundRobin:
    def __init__(self, upstreams: list[str]) -> None:
        self._upstreams = [url.rstrip("/") for url in upstreams]
        self._client = httpx.AsyncClient(timeout=httpx.Timeout(30, read=None))
        self.sent: list[tuple[int, str, str | None]] = []
        """(instance, HTTP method, session id) per request."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # lifespan: nothing to set up
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            return
        body = bytearray()
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        index = len(self.sent) % len(self._upstreams)
        session = next((v.decode() for k, v in scope["headers"] if k == b"mcp-session-id"), None)
        self.sent.append((index, scope["method"], session))
        headers = [(k, v.strip()) for k, v in scope["headers"] if k.lower() not in _HOP_BY_HOP]
        url = self._upstreams[index] + scope["raw_path"].decode()
        request = self._client.build_request(scope["method"], url, headers=headers, content=bytes(body))
        response = await self._client.send(request, stream=True)
        try:
            out = [(k, v) for k, v in response.headers.raw if k.lower() not in _HOP_BY_HOP]
            await send({"type": "http.response.start", "status": response.status_code, "headers": out})
            async for chunk in response.aiter_raw():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        finally:
            await response.aclose()
