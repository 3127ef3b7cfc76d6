"""A fast-path call is cancelled when its client goes away, and only that cancel is taken back:
a shutdown or a deadline that lands in the same turn still ends the caller. Each holds whether
the call learns of it by listening on `receive` or from the server (`Departure`, the HTTP front)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from starlette.types import Message

from broker.mcp.exchange import Departure, unless_gone


class Client:
    """The ASGI `receive` channel of one request whose body was read already: it gives
    `http.disconnect` once the client leaves, as uvicorn's does; and the server's word of it
    (`when_gone`), as the HTTP front gives it from `connection_lost`."""

    def __init__(self) -> None:
        self._left = asyncio.Event()
        self._callbacks: list[Callable[[], object]] = []

    def leave(self) -> None:
        self._left.set()
        callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            asyncio.get_running_loop().call_soon(callback)

    async def receive(self) -> Message:
        await self._left.wait()
        return {"type": "http.disconnect"}

    def when_gone(self, callback: Callable[[], object]) -> Callable[[], None]:
        if self._left.is_set():
            return asyncio.get_running_loop().call_soon(callback).cancel
        self._callbacks.append(callback)
        return lambda: self._callbacks.remove(callback) if callback in self._callbacks else None


@pytest.fixture(params=["listening on receive", "told by the server"])
def told(request: pytest.FixtureRequest) -> bool:
    return bool(request.param == "told by the server")


def _departure(client: Client, told: bool) -> Departure | None:
    return client if told else None


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


async def _in_flight(client: Client, call: Call, told: bool) -> asyncio.Task[tuple[Any, int]]:
    """The caller's task, once its call waits and the disconnect watcher listens."""

    async def caller() -> tuple[Any, int]:
        answer = await unless_gone(client.receive, call.run(), _departure(client, told))
        this = asyncio.current_task()
        assert this is not None
        return answer, this.cancelling()  # a cancel still pending would end its next await

    task = asyncio.create_task(caller())
    await call.waiting.wait()
    await asyncio.sleep(0)  # the watcher starts at the turn after the call began waiting
    return task


async def test_a_client_that_leaves_gets_no_answer_and_the_caller_carries_on(told: bool) -> None:
    client = Client()
    caller = await _in_flight(client, Call(), told)
    client.leave()
    assert await caller == (None, 0)


async def test_a_shutdown_in_the_same_turn_as_the_client_leaving_still_cancels_the_caller(told: bool) -> None:
    client = Client()
    caller = await _in_flight(client, Call(), told)
    client.leave()
    caller.cancel()  # the server shutting down: it must not pass for the client's leaving
    with pytest.raises(asyncio.CancelledError):
        await caller
    assert caller.cancelled()


async def test_a_deadline_in_the_same_turn_as_the_client_leaving_still_expires(told: bool) -> None:
    client = Client()
    call = Call()
    deadlines: list[asyncio.Timeout] = []
    reached: list[TimeoutError] = []

    async def bounded() -> None:
        try:
            async with asyncio.timeout(None) as deadline:
                deadlines.append(deadline)
                await unless_gone(client.receive, call.run(), _departure(client, told))
        except TimeoutError as exc:
            reached.append(exc)

    caller = asyncio.create_task(bounded())
    await call.waiting.wait()
    await asyncio.sleep(0)
    client.leave()
    deadlines[0].reschedule(asyncio.get_running_loop().time() - 1)  # due at this very turn
    await caller
    assert len(reached) == 1, "the deadline expired but the caller was answered None"


async def test_a_call_that_answers_its_cancel_leaves_the_caller_uncancelled(told: bool) -> None:
    client = Client()
    caller = await _in_flight(client, Call(caught="cut short"), told)
    client.leave()
    assert await caller == ("cut short", 0)


async def test_a_client_leaving_after_the_answer_cancels_nothing(told: bool) -> None:
    client = Client()

    async def caller() -> tuple[Any, int]:
        answer = await unless_gone(client.receive, asyncio.sleep(0.01, "answered"), _departure(client, told))
        client.leave()
        await asyncio.sleep(0.01)  # a cancel left behind would end this
        this = asyncio.current_task()
        assert this is not None
        return answer, this.cancelling()

    assert await caller() == ("answered", 0)


async def test_a_client_gone_before_the_call_began_gets_no_answer(told: bool) -> None:
    client = Client()
    client.leave()
    assert await unless_gone(client.receive, Call().run(), _departure(client, told)) is None
