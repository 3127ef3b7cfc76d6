"""Small ASGI helpers for the /v1 endpoints: headers, bodies, JSON answers, errors in the
caller's dialect, and running a stream until the client goes away."""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any, Literal

from starlette.types import Message, Receive, Scope, Send

from broker.errors import BrokerError
from broker.llm.bodies import BodyBudget
from broker.llm.errors import (
    BadRequest,
    GatewayBusy,
    GuardrailBlocked,
    GuardrailUnavailable,
    LimitExceeded,
    PayloadTooLarge,
)
from broker.tasks import cancel_and_wait
from broker.telemetry.logs import correlation_ids

Dialect = Literal["openai", "anthropic"]
JSON_HEADERS = [(b"content-type", b"application/json")]

_OPENAI_TYPES = {
    400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
    404: "invalid_request_error", 413: "invalid_request_error", 429: "rate_limit_error",
}  # fmt: skip
_ANTHROPIC_TYPES = {
    400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
    404: "not_found_error", 413: "request_too_large", 429: "rate_limit_error", 503: "overloaded_error",
}  # fmt: skip


class ClientDisconnected(Exception):
    """The client closed the connection; there is no one left to answer."""


@dataclass(slots=True)
class Exchange:
    """One HTTP request and the means to answer it."""

    scope: Scope
    receive: Receive
    _send: Send
    headers: dict[str, str]
    dialect: Dialect
    started: bool = field(default=False)
    """Whether the response has begun (an error can then no longer be sent as a reply)."""

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.started = True
        await self._send(message)


def header_map(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}


async def read_body(receive: Receive, headers: dict[str, str], limit: int, budget: BodyBudget) -> bytes:
    """The whole body, at most `limit` bytes, counted in `budget` (the caller gives back
    `len(body)` when it is done with it). A declared Content-Length over the limit is refused
    before anything is read; PayloadTooLarge (413) or GatewayBusy (503) otherwise."""
    declared = headers.get("content-length")
    if declared is not None:
        if not declared.isdigit() or not declared.isascii():
            raise BadRequest(f"invalid Content-Length header: {declared[:40]!r}")
        if int(declared) > limit:
            raise PayloadTooLarge(_too_large(limit))
    reserved = int(declared) if declared is not None else 0
    if not budget.take(reserved):
        raise _busy()
    chunks: list[bytes] = []
    size = 0
    try:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise ClientDisconnected("the client went away before sending its whole request")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise PayloadTooLarge(_too_large(limit))
            if size > reserved:  # chunked, or more than declared (the server refuses that itself)
                if not budget.take(size - reserved):
                    raise _busy()
                reserved = size
            chunks.append(chunk)
            if not message.get("more_body", False):
                budget.give_back(reserved - size)
                return chunks[0] if len(chunks) == 1 else b"".join(chunks)
    except BaseException:
        budget.give_back(reserved)
        raise


def _too_large(limit: int) -> str:
    return (
        f"the request body is larger than the gateway's limit of {limit} bytes "
        f"({limit / 1048576:g} MiB, BROKER_LLM_MAX_REQUEST_BYTES)"
    )


def _busy() -> GatewayBusy:
    return GatewayBusy(
        "the gateway is holding as many request bodies as its memory budget allows "
        "(BROKER_LLM_MAX_INFLIGHT_BYTES); retry shortly"
    )


async def send_bytes(
    send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers or JSON_HEADERS})
    await send({"type": "http.response.body", "body": body})


async def send_json(
    send: Send, status: int, value: Any, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    await send_bytes(send, status, json.dumps(value).encode(), JSON_HEADERS + (extra or []))


def error_payload(exc: BrokerError, dialect: Dialect) -> dict[str, Any]:
    status = exc.status_code
    if dialect == "anthropic":
        kind = _ANTHROPIC_TYPES.get(status, "api_error")
        error: dict[str, Any] = {"type": kind, "message": exc.message, "code": exc.code}
        body: dict[str, Any] = {"type": "error", "error": error}
    else:
        kind = _OPENAI_TYPES.get(status, "api_error")
        error = {"message": exc.message, "type": kind, "param": None, "code": exc.code}
        body = {"error": error}
    if isinstance(exc, LimitExceeded):
        error[str(exc.detail["type"])] = exc.detail
    elif isinstance(exc, GuardrailBlocked | GuardrailUnavailable):
        error["guardrail"] = exc.guardrail
    return body


def error_headers(
    exc: BrokerError, request_id: str | None, challenge: str | None = None
) -> list[tuple[bytes, bytes]]:
    headers: list[tuple[bytes, bytes]] = []
    if request_id:
        headers.append((b"x-request-id", request_id.encode()))
    if isinstance(exc, LimitExceeded):
        headers.append((b"retry-after", str(max(1, math.ceil(exc.retry_after))).encode()))
        # Clients (openai, anthropic) retry 429s on their own; a spent budget will not come back soon.
        headers.append((b"x-should-retry", b"false" if exc.code == "budget_exceeded" else b"true"))
    elif isinstance(exc, GatewayBusy):
        headers.append((b"retry-after", b"1"))
    elif challenge is not None:
        headers.append((b"www-authenticate", challenge.encode("latin-1", "replace")))
    elif exc.status_code == 401:
        headers.append((b"www-authenticate", b"Bearer"))
    return headers


async def send_error(
    send: Send,
    exc: BrokerError,
    dialect: Dialect,
    request_id: str | None = None,
    challenge: str | None = None,
) -> None:
    ids = {**correlation_ids(), **({"request_id": request_id} if request_id else {})}
    payload = {**error_payload(exc, dialect), **ids}  # where Anthropic puts its request_id; clients ignore it
    await send_json(send, exc.status_code, payload, error_headers(exc, request_id, challenge))


async def until_disconnect(work: Coroutine[Any, Any, None], receive: Receive) -> bool:
    """Run `work`; if the client disconnects first, cancel it. Returns True on a disconnect."""
    task = asyncio.ensure_future(work)
    watcher = asyncio.ensure_future(_disconnected(receive))
    try:
        await asyncio.wait((task, watcher), return_when=asyncio.FIRST_COMPLETED)
    finally:
        gone = not task.done()
        await cancel_and_wait(watcher, *([task] if gone else []))
    if gone or task.cancelled():
        return True
    task.result()
    return False


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
