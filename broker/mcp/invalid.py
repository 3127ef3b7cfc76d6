"""A body that is not a JSON-RPC message is an Invalid Request (-32600), not Invalid params.

The SDK's 2025-era transport answers a POST whose body parses as JSON but is not a JSON-RPC
request, notification or response (no `method`, `jsonrpc` not "2.0", `params` not an object)
with -32602 and pydantic's validation text. JSON-RPC 2.0 says -32600, and the 2026-07-28 path
already answers that. `invalid_requests` wraps the 2025 path and rewrites only that answer
(a 400 whose error is -32602 "Validation error: ..."), so every other response passes
through unbuffered and the success path costs nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pydantic_core
from starlette.types import Message, Receive, Scope, Send

App = Callable[[Scope, Receive, Send], Awaitable[None]]

MESSAGE = (
    "Invalid Request: the body is not a JSON-RPC 2.0 request, notification or response. A request "
    'needs "jsonrpc": "2.0", an "id", a string "method" and, when given, "params" as an object.'
)


def invalid_requests(app: App) -> App:
    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        held: list[Message] = []

        async def watch(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 400:
                held.append(message)
                return
            if not held:
                await send(message)
                return
            held.append(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                for out in _rewritten(held):
                    await send(out)
                held.clear()

        await app(scope, receive, watch)

    return wrapped


def _rewritten(messages: list[Message]) -> list[Message]:
    start, bodies = messages[0], messages[1:]
    body = b"".join(m.get("body", b"") for m in bodies)
    try:
        answer = pydantic_core.from_json(body)
        error = answer["error"]
        misfiled = error["code"] == -32602 and str(error["message"]).startswith("Validation error")
    except (ValueError, KeyError, TypeError):
        misfiled = False
    if not misfiled:
        return messages
    fixed = pydantic_core.to_json(
        {"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": MESSAGE}}
    )
    headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
    headers.append((b"content-length", str(len(fixed)).encode()))
    return [{**start, "headers": headers}, {"type": "http.response.body", "body": fixed}]
