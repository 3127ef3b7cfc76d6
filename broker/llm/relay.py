"""Relaying an upstream answer to the client: whole, or as a stream, event by event.

A stream is forwarded as events complete, each in its own write, so nothing is held back
beyond the end of the current event. A meter sees every event on its way. When the client
disconnects, the upstream request is closed at once (the provider stops generating), and
the call is charged for what was delivered.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Protocol

from broker.llm.asgi import Exchange, until_disconnect
from broker.llm.errors import UpstreamError
from broker.llm.metering import ModelCall
from broker.llm.sse import EventSplitter
from broker.llm.upstream import Opened
from connectors.http1 import Response, UpstreamConnectionError, UpstreamTimeout


class StreamMeter(Protocol):
    def event(self, event: bytes) -> bool: ...


def _headers(
    response: Response, call: ModelCall, extra: list[tuple[bytes, bytes]]
) -> list[tuple[bytes, bytes]]:
    content_type = response.headers.get("content-type", "application/json").encode("latin-1")
    return [(b"content-type", content_type), (b"x-request-id", call.request_id.encode()), *extra]


async def relay_whole(
    exchange: Exchange,
    call: ModelCall,
    opened: Opened,
    on_body: Callable[[Any], None],
    render: Callable[[Any], Any] | None = None,
) -> None:
    """Read the whole answer, let `on_body` meter its parsed JSON, and send it on as is (or, for
    a successful answer with `render`, rendered from the parsed JSON in the caller's API)."""
    response = opened.response
    try:
        body = await response.aread()
    except (UpstreamTimeout, UpstreamConnectionError) as exc:
        raise UpstreamError(
            f"provider '{opened.target.provider.name}' broke off its answer ({type(exc).__name__})"
        ) from None
    finally:
        await response.aclose()
    status = response.status_code
    body = opened.target.provider.scrub(body)
    if status >= 400:
        call.status, call.http_status = "upstream_rejected", status
        call.error = f"provider '{opened.target.provider.name}' answered HTTP {status}"
    else:
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = None
        on_body(parsed)
        if render is not None and isinstance(parsed, dict):
            body = json.dumps(render(parsed)).encode()
    await exchange.send(
        {"type": "http.response.start", "status": status, "headers": _headers(response, call, [])}
    )
    await exchange.send({"type": "http.response.body", "body": body})


def is_event_stream(opened: Opened) -> bool:
    response = opened.response
    return response.status_code < 400 and response.headers.get("content-type", "").startswith(
        "text/event-stream"
    )


class StreamCut(Exception):
    """Raised by a stream's `translate` to end the stream: `body` is sent last, the upstream is
    closed, and the call is recorded with `status`."""

    def __init__(self, body: bytes, status: str, message: str) -> None:
        super().__init__(message)
        self.body = body
        self.status = status
        self.message = message


async def relay_stream(
    exchange: Exchange,
    call: ModelCall,
    opened: Opened,
    meter: StreamMeter,
    translate: Callable[[bytes], bytes] | None = None,
) -> None:
    """Forward server-sent events until the upstream ends or the client leaves; `translate`
    turns each upstream event (metered as it came) into what the client is sent."""
    response = opened.response
    stream_headers = [(b"cache-control", b"no-cache"), (b"x-accel-buffering", b"no")]
    splitter = EventSplitter()
    send = exchange.send

    def rendered(events: list[bytes]) -> tuple[bytes, StreamCut | None]:
        if translate is None:
            return b"".join(events), None
        parts = []
        for event in events:
            try:
                parts.append(translate(event))
            except StreamCut as cut:
                parts.append(cut.body)
                return b"".join(parts), cut
        return b"".join(parts), None

    async def pump() -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": _headers(response, call, stream_headers),
            }
        )
        async for chunk in response.aiter_bytes():
            out, cut = rendered([e for e in splitter.feed(chunk) if meter.event(e)])
            if out:
                await send({"type": "http.response.body", "body": out, "more_body": True})
                call.first_byte()
            if cut is not None:
                call.status, call.error = cut.status, cut.message
                return
        rest = splitter.rest()
        if rest.strip() and meter.event(rest):
            out, cut = rendered([rest])
            await send({"type": "http.response.body", "body": out, "more_body": True})
            if cut is not None:
                call.status, call.error = cut.status, cut.message

    try:
        disconnected = await until_disconnect(pump(), exchange.receive)
    except (UpstreamTimeout, UpstreamConnectionError) as exc:
        disconnected = False
        call.status, call.http_status = "upstream_cut", 502
        call.error = f"provider '{opened.target.provider.name}' broke off the stream ({type(exc).__name__})"
        error = {"error": {"message": call.error, "type": "api_error", "code": "upstream_cut"}}
        await send(
            {
                "type": "http.response.body",
                "body": b"data: " + json.dumps(error).encode() + b"\n\n",
                "more_body": True,
            }
        )
    finally:
        await response.aclose()
    if disconnected:
        call.status, call.http_status = "client_closed", 499
    else:
        await send({"type": "http.response.body", "body": b"", "more_body": False})
