"""The HTTP front: uvicorn's httptools protocol, with the MCP fast path's requests answered
straight from the parser.

uvicorn serves every request the same way: an ASGI scope, a `RequestResponseCycle` with its
event, the ASGI middleware (proxy headers, request ids, the server span) and two writes (head,
then body). For a POST to /mcp that the fast path (`broker.mcp.fastpath`) answers, that is
most of what the front costs. `McpFrontProtocol` reads such a request itself: when the head
is complete it asks the fast path whether the request may be its (`screen_head`); when the
body is complete (bounded, at most `HIGH_WATER_LIMIT` bytes, so reading never pauses) it
asks again with the body (`screen`), and either answers it in a task of its own, with the
request id and the server span as the ASGI middleware would set them and the whole reply in
one `transport.write`, or hands it to uvicorn's cycle and the app with the body already
read (the fast path then passes it on at once: `DECLINED`).

What the front does for every request stays the same here: keep-alive, `Connection: close`
and HTTP/1.0, the `Date` and `Server` headers, the access log line (with the client address
the proxy headers give), `limit_concurrency` (beyond it uvicorn answers 503), graceful
shutdown (the answer is written, then the connection closed), a client that goes away
cancels its waiting call, and an error in the answer is logged and answered 500 as uvicorn
does. A request still in flight when the next one arrives (pipelining), one with
`Expect: 100-continue`, a query string, a chunked or large body: uvicorn serves those.

Only `create_app`'s `GatewayApp` offers the fast path to the front (`mcp_front`); any other
app is served exactly as uvicorn serves it.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable, Iterable
from typing import Any, cast

from starlette.types import Message
from uvicorn.config import Config
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware
from uvicorn.protocols.http.flow_control import HIGH_WATER_LIMIT
from uvicorn.protocols.http.httptools_impl import (
    HEADER_RE,
    HEADER_VALUE_RE,
    STATUS_LINE,
    HttpToolsProtocol,
    RequestResponseCycle,
)
from uvicorn.protocols.utils import get_client_addr
from uvicorn.server import ServerState

from broker.mcp.exchange import GONE
from broker.mcp.fastpath import DECLINED, McpFastPath, Screened
from broker.telemetry.logs import REQUEST_ID, request_id_of
from broker.telemetry.tracing import ServerSpan

_DISCONNECT: Message = {"type": "http.disconnect"}
_JOINED_BODY = 64 * 1024
"""A smaller body is written joined to the head, in one write."""
_PLAIN = frozenset({b"content-length", b"content-type", b"x-request-id", b"x-trace-id"})
"""Headers whose values the front and the fast path make (digits, constants, checked ids)."""
_ERROR_500 = [
    (b"content-type", b"text/plain; charset=utf-8"),
    (b"content-length", b"21"),
    (b"connection", b"close"),
]


class McpFront:
    """What the gateway app offers the front: its fast path, and the tracer of its server span."""

    def __init__(self, fast: McpFastPath, tracer: Any | None) -> None:
        self.fast = fast
        self.tracer = tracer
        self.path = fast.path.encode("ascii")
        self.max_body = min(fast.max_body, HIGH_WATER_LIMIT)


def _front_of(app: Any) -> McpFront | None:
    """The `McpFront` of the app uvicorn loaded, under its wrappers (proxy headers, logging)."""
    for _ in range(8):
        front = getattr(app, "mcp_front", None)
        if isinstance(front, McpFront):
            return front
        app = getattr(app, "app", None)
        if app is None:
            return None
    return None


class _Answering:
    """A POST /mcp the front answers: in `cycle`'s place, with what the protocol reads of a
    `RequestResponseCycle` (body, more_body, response_complete, keep_alive, disconnected,
    message_event), and the disconnect as the fast path's `receive` reports it."""

    __slots__ = (
        "_gone",
        "_on_gone",
        "_told",
        "body",
        "disconnected",
        "head",
        "headers",
        "http_version",
        "keep_alive",
        "message_event",
        "method",
        "more_body",
        "response_complete",
        "started",
    )

    def __init__(
        self,
        head: dict[bytes, bytes],
        method: str,
        headers: list[tuple[bytes, bytes]],
        http_version: str,
        keep_alive: bool,
    ) -> None:
        self.head = head
        self.method = method
        self.headers = headers
        self.http_version = http_version
        self.keep_alive = keep_alive
        self.body = bytearray()
        self.more_body = True
        self.response_complete = False
        self.started = False
        self.disconnected = False
        self.message_event = self
        self._gone: asyncio.Future[None] | None = None
        self._on_gone: Callable[[], object] | None = None
        self._told: asyncio.Handle | None = None

    def set(self) -> None:
        """`message_event.set()`: the protocol calls it on more body and on a lost connection."""
        if not self.disconnected:
            return
        if self._gone is not None and not self._gone.done():
            self._gone.set_result(None)
        callback, self._on_gone = self._on_gone, None
        if callback is not None:
            self._told = asyncio.get_running_loop().call_soon(callback)

    def when_gone(self, callback: Callable[[], object]) -> Callable[[], None]:
        """`broker.mcp.exchange.Departure`: the fast path's call learns of the client leaving
        from `connection_lost`, without a task listening on `receive`."""
        if self.disconnected:
            self._told = asyncio.get_running_loop().call_soon(callback)
        else:
            self._on_gone = callback
        return self._forget

    def _forget(self) -> None:
        self._on_gone = None
        if self._told is not None:
            self._told.cancel()
            self._told = None

    async def receive(self) -> Message:
        if not self.disconnected:
            self._gone = asyncio.get_running_loop().create_future()
            await self._gone
        return _DISCONNECT


class McpFrontProtocol(HttpToolsProtocol):
    """See the module docstring."""

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.front = _front_of(self.app) if not self.root_path else None
        self.answering: _Answering | None = None
        self._proxy: ProxyHeadersMiddleware | None = None
        self._checked_defaults: list[tuple[bytes, bytes]] | None = None

    def connection_lost(self, exc: Exception | None) -> None:
        answering = self.answering
        if answering is not None and not answering.response_complete:
            answering.disconnected = True
            answering.set()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        if self.front is None:
            super().on_message_begin()
            return
        self.url = b""  # the ASGI scope waits for the head: a request answered here needs none
        self.expect_100_continue = False
        self.headers = []

    def on_headers_complete(self) -> None:
        front = self.front
        if front is None:
            super().on_headers_complete()
            return
        if self.url == front.path and self._may_answer():
            found = front.fast.screen_head(self.headers)
            if found is not None and self._small_body(found[0], front.max_body):
                http_version = self.parser.get_http_version()
                keep_alive = http_version != "1.0" and self.parser.should_keep_alive()
                self.answering = _Answering(found[0], found[1], self.headers, http_version, keep_alive)
                self.cycle = self.answering  # type: ignore[assignment]
                return
        url, headers, expect = self.url, self.headers, self.expect_100_continue
        super().on_message_begin()  # the scope, as uvicorn makes it
        self.url, self.headers, self.expect_100_continue = url, headers, expect
        self.scope["headers"] = headers
        super().on_headers_complete()

    def _may_answer(self) -> bool:
        """A POST with nothing in flight before it, under the concurrency limit, no upgrade."""
        if self.parser.get_method() != b"POST" or self.expect_100_continue or self.pipeline:
            return False
        if self.cycle is not None and not self.cycle.response_complete:
            return False
        limit = self.limit_concurrency
        if limit is not None and (len(self.connections) >= limit or len(self.tasks) >= limit):
            return False  # uvicorn answers 503
        return not self.parser.should_upgrade()

    @staticmethod
    def _small_body(head: dict[bytes, bytes], limit: int) -> bool:
        declared = head.get(b"content-length")
        return (
            declared is not None
            and declared.isdigit()
            and int(declared) <= limit
            and b"transfer-encoding" not in head
        )

    def on_message_complete(self) -> None:
        answering = self.answering
        if answering is not None and cast(object, self.cycle) is answering and answering.more_body:
            answering.more_body = False
            if self.config.reset_contextvars:
                task = self.loop.create_task(self._answer(answering), context=contextvars.Context())
            else:
                task = self.loop.create_task(self._answer(answering))
            task.add_done_callback(self.tasks.discard)
            self.tasks.add(task)
            return
        super().on_message_complete()

    async def _answer(self, answering: _Answering) -> None:
        assert self.front is not None
        body = bytes(answering.body)
        screened = self.front.fast.screen(answering.head, answering.method, body)
        if screened is None:
            await self._hand_to_app(answering, body)
            return
        token = REQUEST_ID.set(request_id_of(answering.headers))
        try:
            answered = await self._answered(answering, screened)
        except BaseException as exc:  # as uvicorn's RequestResponseCycle.run_asgi
            REQUEST_ID.reset(token)
            self.logger.error("Exception in ASGI application\n", exc_info=exc)
            if answering.started:
                self.transport.close()
            elif not answering.disconnected:
                await self._respond(answering, 500, _ERROR_500, b"Internal Server Error")
            return
        REQUEST_ID.reset(token)
        if not answered and not answering.disconnected:
            self.logger.error("ASGI callable returned without starting response.")
            await self._respond(answering, 500, _ERROR_500, b"Internal Server Error")

    async def _answered(self, answering: _Answering, screened: Screened) -> bool:
        """Whether the fast path answered (else the client left), within the server span."""
        assert self.front is not None
        if self.front.tracer is None:
            return await self._reply(answering, screened, None)
        with ServerSpan(self.front.tracer, "POST", self.front.fast.path) as span:
            return await self._reply(answering, screened, span)

    async def _reply(self, answering: _Answering, screened: Screened, span: ServerSpan | None) -> bool:
        """The fast path's answer, with the ids the ASGI middleware would add (`X-Trace-Id`,
        `X-Request-Id`); False when it sent none (the client left)."""
        assert self.front is not None
        sent: list[Any] = []

        async def send(message: Any) -> None:
            sent.append(message)

        scope = {"type": "http", "headers": answering.headers, GONE: answering}
        await self.front.fast.answer(screened, scope, answering.receive, send)
        if not sent:
            return False
        start, reply = sent
        status = start["status"]
        headers = list(start.get("headers", ()))
        if span is not None:
            span.answered(status)
            headers.append((b"x-trace-id", span.trace_id))
        headers.append((b"x-request-id", (REQUEST_ID.get() or "").encode()))
        await self._respond(answering, status, headers, reply.get("body", b""))
        return True

    async def _respond(
        self, answering: _Answering, status: int, headers: list[tuple[bytes, bytes]], body: bytes
    ) -> None:
        """The reply in one write, as `RequestResponseCycle.send` writes it (default headers
        first, `connection: close` when the connection ends after it), access log first."""
        if self.flow.write_paused and not answering.disconnected:
            await self.flow.drain()
        if answering.disconnected:
            return
        answering.started = True
        if self.access_log:
            await self._log_access(answering, status)
        content = [STATUS_LINE[status]]
        closing = not answering.keep_alive
        has_close = False
        defaults = self.server_state.default_headers
        if defaults is not self._checked_defaults:  # a new list once a second (the date)
            _check(defaults)
            self._checked_defaults = defaults
        for name, value in defaults:
            content.extend((name, b": ", value, b"\r\n"))
        for name, value in headers:
            if name not in _PLAIN:
                _check(((name, value),))
                if name == b"connection" and b"close" in [t.lower().strip() for t in value.split(b",")]:
                    closing = has_close = True
            content.extend((name, b": ", value, b"\r\n"))
        if closing and not has_close:
            content.append(b"connection: close\r\n")
        content.append(b"\r\n")
        if len(body) < _JOINED_BODY:
            content.append(body)
            self.transport.write(b"".join(content))
        else:  # one writev of head and body (uvloop): a big body is not copied behind the head
            self.transport.writelines((b"".join(content), body))
        answering.response_complete = True
        answering.keep_alive = not closing
        if closing:
            self.transport.close()
        self.answering = None
        self.on_response_complete()

    async def _log_access(self, answering: _Answering, status: int) -> None:
        """uvicorn's access log line, with the client the proxy headers name (when trusted)."""
        scope: dict[str, Any] = {"type": "http", "client": self.client, "headers": answering.headers}
        if self.config.proxy_headers:
            if self._proxy is None:
                self._proxy = ProxyHeadersMiddleware(_nothing, self.config.forwarded_allow_ips)
            await self._proxy(scope, _never_receive, _never_send)  # type: ignore[arg-type]
        path = self.front.fast.path if self.front is not None else ""
        client = get_client_addr(scope)  # type: ignore[arg-type]
        version = answering.http_version
        self.access_logger.info('%s - "%s %s HTTP/%s" %d', client, "POST", path, version, status)

    async def _hand_to_app(self, answering: _Answering, body: bytes) -> None:
        """The request, body read, to uvicorn's cycle and the app (which passes it to the SDK)."""
        assert self.front is not None
        path = self.front.fast.path
        scope: Any = {
            "type": "http",
            "asgi": {"version": self.asgi_version, "spec_version": "2.3"},
            "http_version": answering.http_version,
            "server": self.server,
            "client": self.client,
            "scheme": self.scheme,
            "root_path": self.root_path,
            "headers": answering.headers,
            "state": self.app_state.copy(),
            "method": "POST",
            "path": path,
            "raw_path": path.encode("ascii"),
            "query_string": b"",
            DECLINED: True,
        }
        cycle = RequestResponseCycle(
            scope=scope,
            transport=self.transport,
            flow=self.flow,
            logger=self.logger,
            access_logger=self.access_logger,
            access_log=self.access_log,
            default_headers=self.server_state.default_headers,
            message_event=asyncio.Event(),
            expect_100_continue=False,
            keep_alive=answering.keep_alive,
            on_response=self.on_response_complete,
        )
        cycle.body = bytearray(body)
        cycle.more_body = False
        cycle.message_event.set()  # the body is all here
        cycle.disconnected = answering.disconnected
        if cast(object, self.cycle) is answering:
            self.cycle = cycle
        self.answering = None
        await cycle.run_asgi(self.app)


def _check(headers: Iterable[tuple[bytes, bytes]]) -> None:
    """uvicorn's check of each header it writes."""
    for name, value in headers:
        if HEADER_RE.search(name) or HEADER_VALUE_RE.search(value):
            raise RuntimeError("Invalid HTTP header.")


async def _nothing(scope: Any, receive: Any, send: Any) -> None:
    return None


async def _never_receive() -> Any:
    raise RuntimeError("not called")


async def _never_send(message: Any) -> None:
    raise RuntimeError("not called")
