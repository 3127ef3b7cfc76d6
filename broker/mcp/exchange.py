"""One JSON exchange of the MCP fast path over ASGI: the body given again to whoever answers
instead, a call cancelled when its client goes away, the JSON reply."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

from mcp_types import LOG_LEVEL_META_KEY
from starlette.types import Message, Receive, Send

_JSON_HEADERS = (b"content-type", b"application/json")

_STREAM_MARKERS = (b'"progressToken"', f'"{LOG_LEVEL_META_KEY}"'.encode())

GONE = "broker.gone"
"""Scope key of the request's `Departure`, where the server offers one (the HTTP front)."""


def may_stream(body: bytes) -> bool:
    """Whether the request may want an SSE answer (a progress token, a log level): the SDK serves
    it, not a JSON exchange. (`find`, not `in`: on 3.11 `bytes in bytes` first tries the needle as
    an int, raising and dropping a TypeError each time, ~2,000 instructions.)"""
    return any(body.find(marker) >= 0 for marker in _STREAM_MARKERS)


class Departure(Protocol):
    """A server that tells of its client leaving itself, so `unless_gone` need not listen on
    `receive` in a task of its own (~5 us and two loop turns a call)."""

    def when_gone(self, callback: Callable[[], object]) -> Callable[[], None]:
        """Call `callback` at the loop's turn after the client has gone (the next one, if it
        has already), as a task listening on `receive` would; returns what takes that back."""
        ...


def replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that gives the whole body read already, then the real channel."""
    return replay_messages([{"type": "http.request", "body": body, "more_body": False}], receive)


def replay_messages(messages: list[Message], receive: Receive) -> Receive:
    """A `receive` that gives `messages` first, then the real channel."""
    pending = deque(messages)

    async def next_message() -> Message:
        return pending.popleft() if pending else await receive()

    return next_message


async def unless_gone(receive: Receive, work: Any, departure: Departure | None = None) -> Any:
    """Await `work`, cancelled if the client disconnects meanwhile (then None).

    Only the cancel this call asked for is taken back, as asyncio.timeout does: one from
    elsewhere in the same turn (the server shutting down, a deadline around the caller)
    still ends the caller. With a `departure` the server calls back when the client leaves;
    without one a watcher task listens on `receive`, started only once `work` waits for
    something (at the loop's next turn): a call answered without waiting, as a cache hit is,
    costs no task."""
    task = asyncio.current_task()
    assert task is not None
    loop = asyncio.get_running_loop()
    cancelled = False  # this call cancelled `task` and has not yet taken that cancel back
    watcher: asyncio.Task[None] | None = None

    def gone() -> None:
        nonlocal cancelled
        cancelled = task.cancel()

    async def watch() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        gone()

    def start() -> None:
        nonlocal watcher
        watcher = loop.create_task(watch())

    stop = departure.when_gone(gone) if departure is not None else loop.call_soon(start).cancel
    try:
        return await work
    except asyncio.CancelledError:
        if cancelled:
            cancelled = False
            if task.uncancel() == 0:
                return None
        raise
    finally:
        stop()
        if watcher is not None:
            watcher.cancel()
        if cancelled:  # `work` caught the cancel and ended some other way
            task.uncancel()


async def respond(send: Send, status: int, body: bytes) -> None:
    """A JSON reply with its length (the HTTP front writes it in one piece)."""
    headers = [(b"content-length", b"%d" % len(body)), _JSON_HEADERS]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
