"""How the gateway's HTTP server treats slow and hostile clients (the uvicorn options).

uvicorn's keep-alive timer runs only between requests, and any byte received cancels it, so
a client that opens a connection and sends half a request line (or one byte a minute) holds
a connection and its memory forever. The httptools protocol used here adds what a front
server must have:

- a **header timeout**: the request head (request line and headers) must be complete within
  `BROKER_HTTP_HEADER_TIMEOUT_SECONDS` of the connection opening, or of the previous response
  on a kept-alive connection, however slowly its bytes trickle in; else 408 and close;
- a **body timeout**: a request's body must arrive within `BROKER_HTTP_BODY_TIMEOUT_SECONDS`
  of its head; else the connection is closed (the app sees a disconnect);
- a **bounded head**: more than `BROKER_HTTP_MAX_HEAD_BYTES` before the head is complete is
  answered 431 and closed;
- uvicorn's own keep-alive timeout (`BROKER_HTTP_KEEP_ALIVE_SECONDS`) and concurrency limit
  (`BROKER_HTTP_MAX_CONNECTIONS`: beyond it, new requests get 503 at once).
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from broker.front import McpFrontProtocol
from broker.settings import Settings

_TIMEOUT = b"HTTP/1.1 408 Request Timeout"
_TOO_BIG = b"HTTP/1.1 431 Request Header Fields Too Large"


def _answer(status_line: bytes, text: str) -> bytes:
    body = text.encode()
    head = b"\r\ncontent-type: text/plain\r\nconnection: close\r\ncontent-length: %d\r\n\r\n" % len(body)
    return status_line + head + body


def guarded_protocol(
    header_timeout: float, body_timeout: float, max_head_bytes: int
) -> type[HttpToolsProtocol]:
    """An httptools protocol class with the header and body deadlines and the head bound
    (and the MCP fast path answered from the parser: `broker.front`)."""

    class GuardedHttpToolsProtocol(McpFrontProtocol):
        _deadline: asyncio.TimerHandle | None = None
        _since = 0.0
        """When the current deadline's clock started (the head's, or the body's)."""
        _head_bytes = 0
        _in_head = True
        _body_done = True
        _mid_message = False
        """Bytes of a request have arrived, its message is not complete."""

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._await_head(idle=True)

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            in_head = self._in_head
            super().data_received(data)  # may complete the head (and start a body) on the way
            # The deadlines are armed only for what is still missing once these bytes are in:
            # most requests arrive whole, and then no timer is made for them at all.
            if in_head and self._in_head:
                self._head_bytes += len(data)
                if self._head_bytes > max_head_bytes:
                    self._refuse(_TOO_BIG, f"request head larger than {max_head_bytes} bytes\n")
                elif self._deadline is None:
                    self._deadline = self.loop.call_at(self._since + header_timeout, self._head_late)
            elif not (self._in_head or self._body_done or self._deadline or self.transport.is_closing()):
                self._deadline = self.loop.call_at(self._since + body_timeout, self._body_late)

        def on_message_begin(self) -> None:
            self._mid_message = True
            super().on_message_begin()

        def on_headers_complete(self) -> None:
            self._in_head, self._body_done = False, False
            self._disarm()
            self._since = self.loop.time()
            super().on_headers_complete()

        def on_message_complete(self) -> None:
            self._disarm()
            self._body_done, self._mid_message = True, False
            super().on_message_complete()
            if self.cycle is not None and self.cycle.response_complete and not self.transport.is_closing():
                self._await_head(idle=True)  # answered early (a 413 say): the next request may come now

        def on_response_complete(self) -> None:
            super().on_response_complete()
            # While the rest of an unread body is still arriving (and discarded), the body
            # deadline keeps running; the next head's deadline starts when it has arrived.
            # uvicorn's keep-alive timer closes an idle connection (it ends at the first byte),
            # unless the next request has begun already (pipelined).
            if self._body_done and not self.transport.is_closing() and not self.pipeline:
                self._await_head(idle=self._mid_message or header_timeout < self.timeout_keep_alive)

        def _await_head(self, idle: bool) -> None:
            """The next head's clock starts now; `idle`: armed now, for a connection on which
            nothing else may close (else when its first bytes leave the head incomplete)."""
            self._disarm()
            self._in_head, self._head_bytes = True, 0
            self._since = self.loop.time()
            if idle:
                self._deadline = self.loop.call_at(self._since + header_timeout, self._head_late)

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def _head_late(self) -> None:
            self._deadline = None
            if self._in_head and not self.transport.is_closing():
                text = f"the request head did not arrive within {header_timeout:g} s\n"
                self._refuse(_TIMEOUT, text)

        def _body_late(self) -> None:
            self._deadline = None
            if not self.transport.is_closing():
                self.logger.info(
                    "closing a connection whose request body did not arrive within %gs", body_timeout
                )
                self.transport.close()

        def _refuse(self, status_line: bytes, text: str) -> None:
            self._disarm()
            if not self.transport.is_closing():
                self.transport.write(_answer(status_line, text))
                self.transport.close()

    return GuardedHttpToolsProtocol


def server_options(settings: Settings) -> dict[str, Any]:
    """The uvicorn.Config keyword arguments for the gateway's listener."""
    return {
        "http": guarded_protocol(
            settings.http_header_timeout_seconds,
            settings.http_body_timeout_seconds,
            settings.http_max_head_bytes,
        ),
        "timeout_keep_alive": settings.http_keep_alive_seconds,
        "limit_concurrency": settings.http_max_connections,
        "h11_max_incomplete_event_size": settings.http_max_head_bytes,
    }
