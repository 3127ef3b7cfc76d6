"""A small reverse proxy that adds an agent key: the conformance suite sends no Authorization header.

Everything else passes through as sent (Host and Origin too, so the gateway's DNS-rebinding
guard sees what the suite sent), and responses stream back chunk by chunk (SSE included).
"""

from __future__ import annotations

import httpx
from starlette.types import Receive, Scope, Send

_HOP_BY_HOP = {b"connection", b"keep-alive", b"transfer-encoding", b"content-length", b"authorization"}


class AddKeyProxy:
    def __init__(self, upstream: str, key: str) -> None:
        self._upstream = upstream.rstrip("/")
        self._auth = f"Bearer {key}".encode()
        self._client = httpx.AsyncClient(timeout=httpx.Timeout(30, read=None))

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
        # Values without surrounding whitespace: RFC 9110 parsing excludes it, and httpx refuses to send it.
        headers = [(k, v.strip()) for k, v in scope["headers"] if k.lower() not in _HOP_BY_HOP]
        headers.append((b"authorization", self._auth))
        url = self._upstream + scope["raw_path"].decode()
        if scope.get("query_string"):
            url += "?" + scope["query_string"].decode()
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
