"""The answer side of the lean HTTP/1.1 client (connectors/http1): its errors, a pooled
connection, and the `Response` whose body is read as it arrives (Content-Length, chunked, or
until close), bounded in size and, per read, in time."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from connectors.http1 import Http1Pool

T = TypeVar("T")


class UpstreamTimeout(Exception):
    """The upstream did not connect or answer in time."""


class UpstreamConnectionError(Exception):
    """The upstream could not be reached, or broke the connection."""


class ConnectFailed(UpstreamConnectionError):
    """No connection could be opened (refused, unreachable, TLS handshake, proxy refusal);
    `detail` says why, without the host."""

    def __init__(self, message: str, detail: str) -> None:
        super().__init__(message)
        self.detail = detail


class ProtocolViolation(UpstreamConnectionError):
    """The upstream's answer is not well-formed HTTP/1.1."""


class ResponseTooLarge(UpstreamConnectionError):
    """The answer went past the pool's `max_body_bytes`."""


MAX_BODY_BYTES = 64 * 1024 * 1024
"""The most an answer may bring by default (a chat answer is kilobytes; a stream of one, a few
megabytes): past it the answer is cut off and the call fails like a broken answer."""


class _Connection:
    __slots__ = ("address", "idle_since", "reader", "reused", "writer")

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, address: str | None
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.address = address
        self.reused = False
        self.idle_since = 0.0

    def usable(self) -> bool:
        return not self.writer.is_closing() and not self.reader.at_eof()

    def close(self) -> None:
        self.writer.close()


class Response:
    """An upstream's answer; read it (`aread`, `aiter_bytes`) and `aclose` it. `headers` has
    lower-case names (the last of repeated ones)."""

    def __init__(
        self,
        pool: Http1Pool,
        conn: _Connection,
        status: int,
        reason: str,
        headers: dict[str, str],
        framing: str,
        length: int,
    ) -> None:
        self.status_code = status
        self.reason_phrase = reason
        self.headers = headers
        self._pool = pool
        self._conn: _Connection | None = conn
        self._framing = framing
        self._left = length
        self._done = framing == "none"

    @property
    def length(self) -> int | None:
        """The bytes of the body still to read when Content-Length frames it (0 when there is
        no body; None when it is chunked, or ends with the connection)."""
        if self._framing == "length":
            return self._left
        return 0 if self._framing == "none" else None

    async def aiter_bytes(self) -> AsyncIterator[bytes]:
        """The body as it arrives: what each read from the socket brings, nothing held back (a
        chunked body's frames that arrive together come out together). UpstreamTimeout when
        one read waits longer than the read timeout."""
        conn = self._conn
        if conn is None or self._done:
            return
        reader, limit, most = conn.reader, self._pool.read_timeout, self._pool.max_body_bytes
        received = 0
        try:
            if self._framing == "chunked":
                async for data in self._dechunk(reader, limit, most):
                    received += len(data)
                    if received > most:
                        raise ResponseTooLarge(f"the answer is larger than {most} bytes")
                    yield data
            else:
                if self._framing == "length" and self._left > most:
                    raise ResponseTooLarge(f"the answer announces {self._left} bytes, more than {most}")
                while self._framing == "close" or self._left > 0:
                    data = await _within(
                        limit, reader.read(65536 if self._framing == "close" else min(self._left, 65536))
                    )
                    if not data:
                        if self._framing == "close":
                            break
                        raise UpstreamConnectionError("the upstream closed the connection mid-answer")
                    self._left -= len(data)
                    received += len(data)
                    if received > most:
                        raise ResponseTooLarge(f"the answer is larger than {most} bytes")
                    yield data
            self._done = True
        except TimeoutError:
            raise UpstreamTimeout("the upstream stopped sending") from None
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
            raise ProtocolViolation(f"the answer broke off or was malformed ({type(exc).__name__})") from None
        except OSError as exc:
            raise UpstreamConnectionError(
                f"the answer broke off or was malformed ({type(exc).__name__})"
            ) from None

    @staticmethod
    async def _dechunk(reader: asyncio.StreamReader, limit: float | None, most: int) -> AsyncIterator[bytes]:
        buffer = bytearray()
        while True:
            frames: list[bytes] = []
            while (line_end := buffer.find(b"\r\n")) >= 0:
                size = _chunk_size(bytes(buffer[:line_end]))
                if size == 0:  # the last chunk, then trailers up to an empty line
                    if buffer.find(b"\r\n\r\n", line_end) < 0:
                        break
                    if frames:
                        yield b"".join(frames)
                    return
                end = line_end + 2 + size
                if len(buffer) < end + 2:
                    break
                frames.append(bytes(buffer[line_end + 2 : end]))
                del buffer[: end + 2]
            if frames:
                yield b"".join(frames)
            data = await _within(limit, reader.read(65536))
            if not data:
                raise UpstreamConnectionError("the upstream closed the connection mid-answer")
            buffer += data
            if len(buffer) > most:  # one chunk announced bigger than any answer may be
                raise ResponseTooLarge(f"a chunk of the answer is larger than {most} bytes")

    async def aread(self) -> bytes:
        conn = self._conn
        if self._framing == "length" and conn is not None and not self._done:
            return await self._read_length(conn.reader, self._pool.read_timeout)
        return b"".join([chunk async for chunk in self.aiter_bytes()])

    async def _read_length(self, reader: asyncio.StreamReader, limit: float | None) -> bytes:
        """A Content-Length body: what `aiter_bytes` gives joined, with its errors, without an
        async generator per answer (~4% of a model call's CPU): in one read when no read is
        bounded on its own, else read by read, each bounded by `limit`."""
        most = self._pool.max_body_bytes
        if self._left > most:
            raise ResponseTooLarge(f"the answer announces {self._left} bytes, more than {most}")
        try:
            if limit is None:
                data = await reader.readexactly(self._left)
            else:
                parts: list[bytes] = []
                left = self._left
                while left > 0:
                    part = await _within(limit, reader.read(min(left, 65536)))
                    if not part:
                        raise UpstreamConnectionError("the upstream closed the connection mid-answer")
                    parts.append(part)
                    left -= len(part)
                data = b"".join(parts)  # one part: the part itself, no copy
        except TimeoutError:
            raise UpstreamTimeout("the upstream stopped sending") from None
        except asyncio.IncompleteReadError:
            raise UpstreamConnectionError("the upstream closed the connection mid-answer") from None
        except (asyncio.LimitOverrunError, ValueError) as exc:
            raise ProtocolViolation(f"the answer broke off or was malformed ({type(exc).__name__})") from None
        except OSError as exc:
            raise UpstreamConnectionError(
                f"the answer broke off or was malformed ({type(exc).__name__})"
            ) from None
        self._left = 0
        self._done = True
        return data

    async def aclose(self) -> None:
        """Give the connection back when the answer was read to its end; else close it."""
        conn, self._conn = self._conn, None
        if conn is not None:
            keep = (
                self._done
                and self._framing != "close"
                and self.headers.get("connection", "").lower() != "close"
            )
            self._pool.release(conn, keep=keep)


async def _within(seconds: float | None, step: Awaitable[T]) -> T:
    """`step`, bounded by `seconds` (None: by the caller)."""
    if seconds is None:
        return await step
    async with asyncio.timeout(seconds):
        return await step


def _chunk_size(line: bytes) -> int:
    """A chunk-size line's value; ValueError when it is not hex digits (with extensions)."""
    text = line.split(b";", 1)[0].strip()
    if not text or len(text) > 16 or text.strip(b"0123456789abcdefABCDEF"):
        raise ValueError("invalid chunk size")
    return int(text, 16)
