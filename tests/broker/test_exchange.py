"""A fast-path call is cancelled when its client goes away, and only that cancel is taken back:
a shutdown or a deadline that lands in the same turn still ends the caller."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from starlette.types import Message

from broker.mcp.exchange import unless_gone


class Client:
    """The ASGI `receive` channel of one request whose body was read already: it gives
    `http.disconnect` once the client leaves, as uvicorn's does."""

    def __init__(self) -> None:
        self._left = asyncio.Event()

    def leave(self) -> None:
        self._left.set()

    async def receive(self) -> Message:
        await self._left.wait()
        return {"type": "http.disconnect"}


class Call:
    """A tool call that waits until it is cancelled, or answers `caught` when it catches that."""

    def __init__(self, caught: str | None = None) -> None:
        self.waiting = asyncio.Event()
        self.caught = caught

    async def run(self) -> str:
        self.waiting.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            if self.caught is None:
                raise
            return self.caught
        raise AssertionError("the event nobody sets was set")


async def _in_flight(client: Client, call: Call) -> asyncio.Task[tuple[Any, int]]:
    """The caller's task, once its call waits and the disconnect watcher listens."""

    async def caller() -> tuple[Any, int]:
        answer = await unless_gone(client.receive, call.run())
        this = asyncio.current_task()
        assert this is not None
        return answer, this.cancelling()  # a cancel still pending would end its next await

    task = asyncio.create_task(caller())
    await call.waiting.wait()
    await asyncio.sleep(0)  # the watcher starts at the turn after the call began waiting
    return task


async def test_a_client_that_leaves_gets_no_answer_and_the_caller_carries_on() -> None:
    client = Client()
    caller = await _in_flight(client, Call())
    client.leave()
    assert await caller == (None, 0)


async def test_a_shutdown_in_the_same_turn_as_the_client_leaving_still_cancels_the_caller() -> None:
    client = Client()
    caller = await _in_flight(client, Call())
    client.leave()
    caller.cancel()  # the server shutting down: it must not pass for the client's leaving
    with pytest.raises(asyncio.CancelledError):
        await caller
    assert caller.cancelled()


async def test_a_deadline_in_the_same_turn_as_the_client_leaving_still_expires() -> None:
    client = Client()
    call = Call()
    deadlines: list[asyncio.Timeout] = []
    reached: list[TimeoutError] = []

    async def bounded() -> None:
        try:
            async with asyncio.timeout(None) as deadline:
                deadlines.append(deadline)
                await unless_gone(client.receive, call.run())
        except TimeoutError as exc:
            reached.append(exc)

    caller = asyncio.create_task(bounded())
    await call.waiting.wait()
    await asyncio.sleep(0)
    client.leave()
    deadlines[0].reschedule(asyncio.get_running_loop().time() - 1)  # due at this very turn
    await caller
    assert len(reached) == 1, "the deadline expired but the caller was answered None"


async def test_a_call_that_answers_its_cancel_leaves_the_caller_uncancelled() -> None:
    client = Client()
    caller = await _in_flight(client, Call(caught="cut short"))
    client.leave()
    assert await caller == ("cut short", 0)
