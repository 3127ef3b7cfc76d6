"""Normalise an upstream's results before the SDK validates them against the negotiated revision.

The SDK client checks every result against the revision it negotiated, and 2026-07-28 requires
fields older servers never sent: `resultType` on every result, `ttlMs` and `cacheScope` on lists
and reads. An upstream that says it speaks 2026-07-28 but leaves one out (an early
implementation, a proxy in between) would fail every call, though its answer is complete and
unambiguous. The gateway must be transparent to the protocol, so it fills in what the revision
defines as the neutral value — `resultType: "complete"` (what every result without one was), `ttlMs: 0` and
`cacheScope: "private"` (do not reuse, do not share) — and lets everything else be validated
as before. A field a client of an older revision does not know is dropped by the SDK anyway.

It wraps the SDK transport (the pair of message streams), remembering the method of each
request it sends so a response is completed by what was asked.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any, Self

import mcp_types as types
from mcp.client._transport import ReadStream, Transport, TransportStreams, WriteStream
from mcp.shared.message import SessionMessage

_CACHED = frozenset(
    {"tools/list", "prompts/list", "resources/list", "resources/templates/list", "resources/read"}
)
"""Results that carry the 2026-07-28 cache hints (`ttlMs`, `cacheScope`)."""


def normalise(method: str | None, result: dict[str, Any]) -> None:
    """Fill in, in place, what 2026-07-28 requires of a result and the upstream left out."""
    result.setdefault("resultType", "complete")
    if method in _CACHED:
        result.setdefault("ttlMs", 0)
        result.setdefault("cacheScope", "private")


class Lenient:
    """A transport whose results are normalised (`normalise`) on their way in."""

    def __init__(self, inner: Transport) -> None:
        self._inner = inner
        self._methods: dict[types.RequestId, str] = {}

    async def __aenter__(self) -> TransportStreams:
        read, write = await self._inner.__aenter__()
        return _Reader(read, self._methods), _Writer(write, self._methods)

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool | None:
        return await self._inner.__aexit__(exc_type, exc, tb)


class _Writer:
    def __init__(self, inner: WriteStream[SessionMessage], methods: dict[types.RequestId, str]) -> None:
        self._inner = inner
        self._methods = methods

    async def send(self, item: SessionMessage, /) -> None:
        message = item.message
        if isinstance(message, types.JSONRPCRequest):
            self._methods[message.id] = message.method
        await self._inner.send(item)

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def __aenter__(self) -> Self:
        await self._inner.__aenter__()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool | None:
        return await self._inner.__aexit__(exc_type, exc, tb)


class _Reader:
    def __init__(
        self, inner: ReadStream[SessionMessage | Exception], methods: dict[types.RequestId, str]
    ) -> None:
        self._inner = inner
        self._methods = methods

    @property
    def last_context(self) -> Any:
        """The transport's context of the last message (the SDK reads it with getattr)."""
        return getattr(self._inner, "last_context", None)

    async def receive(self) -> SessionMessage | Exception:
        return self._seen(await self._inner.receive())

    def _seen(self, item: SessionMessage | Exception) -> SessionMessage | Exception:
        if isinstance(item, SessionMessage):
            message = item.message
            if isinstance(message, types.JSONRPCResponse):
                method = self._methods.pop(message.id, None)
                if isinstance(message.result, dict):
                    normalise(method, message.result)
            elif isinstance(message, types.JSONRPCError) and message.id is not None:
                self._methods.pop(message.id, None)
        return item

    async def aclose(self) -> None:
        await self._inner.aclose()

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> SessionMessage | Exception:
        return self._seen(await self._inner.__anext__())

    async def __aenter__(self) -> Self:
        await self._inner.__aenter__()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool | None:
        return await self._inner.__aexit__(exc_type, exc, tb)
