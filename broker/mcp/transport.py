"""How /mcp answers: real sessions for 2025 clients, single JSON exchanges for 2026-07-28.

The SDK's session manager serves one mode per app. We take its stateful manager and choose
per request, before it dispatches:

- 2026-07-28 (a non-handshake `MCP-Protocol-Version`): one exchange. JSON unless the
  request asked for something that streams (a `progressToken`, or the log-level opt-in in
  `_meta`): then the SDK's deferred SSE mode, which still answers JSON when nothing was sent
  on the way. The decision is one search in the body bytes; the fast path stays JSON.
- 2025-11-25 and older: the SDK's stateful sessions (`Mcp-Session-Id`, SSE responses that
  can carry progress, log messages and requests to the client, the GET stream, DELETE). A
  session opened on another instance is adopted first (broker/mcp/sessions.py), and a DELETE
  that succeeded ends the session on every instance.

Going past the SDK here means calling its private `_handle_request` (the legacy paths) and
`handle_modern_request` (the 2026 entry); both are pinned by uv.lock and covered by the
conformance and transport tests.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import pydantic_core
from mcp.server._streamable_http_modern import handle_modern_request
from mcp.server.streamable_http import MCP_SESSION_ID_HEADER
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import RequestBodyLimitMiddleware
from mcp.shared.inbound import MCP_PROTOCOL_VERSION_HEADER
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS
from starlette.types import Message, Receive, Scope, Send

from broker.mcp.exchange import may_stream
from broker.mcp.invalid import invalid_requests
from broker.mcp.sessions import Sessions

_SESSION_HEADER = MCP_SESSION_ID_HEADER.lower().encode("ascii")
_VERSION_HEADER = MCP_PROTOCOL_VERSION_HEADER.lower().encode("ascii")
_METHOD_HEADER = b"mcp-method"
_WORK_METHODS = {b"tools/call", b"resources/read", b"prompts/get", b"completion/complete"}
"""Requests that reach an upstream and may run long: cancelled when their client goes away."""


def install(manager: StreamableHTTPSessionManager, sessions: Sessions | None = None) -> None:
    """Make `manager` (built stateful, with SSE) answer as described above."""
    legacy = invalid_requests(
        manager._handle_request if sessions is None else _shared_sessions(manager, sessions)
    )

    async def route(scope: Scope, receive: Receive, send: Send) -> None:
        version = next((v.decode("latin-1") for k, v in scope["headers"] if k == _VERSION_HEADER), None)
        if version is None or version in HANDSHAKE_PROTOCOL_VERSIONS or scope["method"] != "POST":
            await legacy(scope, receive, send)
            return
        body = await _body(receive)
        streams = may_stream(body)
        method = next((v for k, v in scope["headers"] if k == _METHOD_HEADER), None)
        if streams or method not in _WORK_METHODS:  # the SDK's SSE mode watches the disconnect itself
            replay = _replay(body, receive)
            json = not streams
            await handle_modern_request(
                manager.app, manager.security_settings, json, manager._lifespan_state, scope, replay, send
            )
            return
        async with anyio.create_task_group() as group:  # JSON mode does not: a client that leaves cancels

            async def watch() -> None:
                while (await receive())["type"] != "http.disconnect":
                    pass
                group.cancel_scope.cancel()

            group.start_soon(watch)
            replay = _replay(body, None)
            await handle_modern_request(
                manager.app, manager.security_settings, True, manager._lifespan_state, scope, replay, send
            )
            group.cancel_scope.cancel()

    manager.asgi_app = RequestBodyLimitMiddleware(route, manager.max_request_body_size)


def _shared_sessions(
    manager: StreamableHTTPSessionManager, sessions: Sessions
) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    sessions.bind(manager)

    async def legacy(scope: Scope, receive: Receive, send: Send) -> None:
        session_id = next((v.decode("latin-1") for k, v in scope["headers"] if k == _SESSION_HEADER), None)
        if session_id is None:
            await manager._handle_request(scope, receive, send)
            return
        if not sessions.held(session_id):
            await sessions.adopt(session_id, scope)
        sessions.touch(session_id)
        if scope["method"] == "POST":
            body = await _body(receive)
            message = _not_a_request(body)
            if message is not None:  # an answer or a cancellation may be awaited on another instance
                await sessions.relay(session_id, message)
            await manager._handle_request(scope, _replay(body, receive), send)
            return
        if scope["method"] != "DELETE":
            await manager._handle_request(scope, receive, send)
            return

        async def end_before_answering(message: Message) -> None:
            """A client told 200 may rely on the session being gone on every instance."""
            if message["type"] == "http.response.start" and 200 <= message["status"] < 300:
                await sessions.ended(session_id)
            await send(message)

        await manager._handle_request(scope, receive, end_before_answering)

    return legacy


def _not_a_request(body: bytes) -> dict[str, Any] | None:
    """The posted message when it is an answer or a notification (the SDK refuses batches)."""
    if body.find(b'"method"') >= 0 and body.find(b'"id"') >= 0:  # a request (the common case): no parse
        return None
    try:
        message = pydantic_core.from_json(body)
    except ValueError:
        return None
    if isinstance(message, dict) and not ("method" in message and "id" in message):
        return message
    return None


async def _body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive | None) -> Receive:
    """A `receive` that gives the body again, then the real channel (None: waits forever, for a
    caller that watches the disconnect itself)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        if receive is None:
            await anyio.sleep_forever()
        assert receive is not None
        return await receive()

    return replay
