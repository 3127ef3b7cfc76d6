"""The stderr of a stdio upstream's process: its last bytes, kept for error messages only."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from contextlib import AsyncExitStack
from typing import Any

from connectors.scrub import NO_SCRUB, Scrubber

STDERR_TAIL_BYTES = 8 * 1024


class StderrTail:
    """The last bytes a child process wrote to stderr, kept for error messages only."""

    def __init__(self, limit: int = STDERR_TAIL_BYTES) -> None:
        self._limit = limit
        self._buffer = bytearray()

    def text(self, secrets: Scrubber = NO_SCRUB) -> str:
        return secrets.text(self._buffer.decode("utf-8", errors="replace")).strip()

    async def pipe(self, stack: AsyncExitStack, on_eof: Callable[[], None]) -> Any:
        """A fresh pipe whose write end (returned, as a file) becomes the child's stderr;
        `on_eof` runs when every writer closed it (the child exited)."""
        read_fd, write_fd = os.pipe()
        errlog = os.fdopen(write_fd, "w")
        stack.callback(errlog.close)
        loop = asyncio.get_running_loop()
        reader = os.fdopen(read_fd, "rb", buffering=0)
        transport, _ = await loop.connect_read_pipe(lambda: _TailProtocol(self, on_eof), reader)
        stack.callback(transport.close)
        return errlog

    def _append(self, data: bytes) -> None:
        self._buffer += data
        del self._buffer[: -self._limit]


class _TailProtocol(asyncio.Protocol):
    def __init__(self, tail: StderrTail, on_eof: Callable[[], None]) -> None:
        self._tail = tail
        self._on_eof = on_eof

    def data_received(self, data: bytes) -> None:
        self._tail._append(data)

    def eof_received(self) -> bool:
        self._on_eof()
        return False
