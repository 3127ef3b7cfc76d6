"""A lean keep-alive HTTP/1.1 client for provider calls, one connection pool per provider.

Why not a library here: measured on this machine, an httpx.AsyncClient costs ~0.45 ms of CPU
per request on one connection and ~1 ms at 64 concurrent connections (its pool does work in
proportion to its size on every request), and an aiohttp adapter cost 1.3-1.9x this
client's gateway CPU per call with a 3-5x p99 at 64 connections (bench/llm_proxy.py); either
would cap the proxy below its target. This client does only what a provider call needs:
POST with a body, status and headers, then the body whole or as it arrives (Content-Length,
chunked, or until close), over plain TCP or TLS (certifi's CA bundle), with connect and read
timeouts. Idle connections are reused last-in first-out; one that the server closed while
idle is replaced and the request sent again, which is safe because nothing of it reached
the server.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Mapping
from urllib.parse import urlencode, urlsplit

import certifi

_HEAD_LIMIT = 1024 * 1024
_NO_BODY = frozenset({204, 304})


class UpstreamTimeout(Exception):
    """The provider did not connect or answer in time."""


class UpstreamConnectionError(Exception):
    """The provider could not be reached, or broke the connection."""


class _Connection:
    __slots__ = ("reader", "reused", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.reused = False

    def usable(self) -> bool:
        return not self.writer.is_closing() and not self.reader.at_eof()

    def close(self) -> None:
        self.writer.close()


class Response:
    """A provider's answer; read it (`aread`, `aiter_bytes`) and `aclose` it."""

    def __init__(
        self,
        pool: Http1Pool,
        conn: _Connection,
        status: int,
        headers: dict[str, str],
        framing: str,
        length: int,
    ) -> None:
        self.status_code = status
        self.headers = headers
        self._pool = pool
        self._conn: _Connection | None = conn
        self._framing = framing
        self._left = length
        self._done = framing == "none"

    async def aiter_bytes(self) -> AsyncIterator[bytes]:
        """The body as it arrives: what each read from the socket brings, nothing held back (a
        chunked body's frames that arrive together come out together). UpstreamTimeout when
        one read waits longer than the read timeout."""
        conn = self._conn
        if conn is None or self._done:
            return
        reader, limit = conn.reader, self._pool.read_timeout
        try:
            if self._framing == "chunked":
                async for data in self._dechunk(reader, limit):
                    yield data
            else:
                while self._framing == "close" or self._left > 0:
                    async with asyncio.timeout(limit):
                        data = await reader.read(
                            65536 if self._framing == "close" else min(self._left, 65536)
                        )
                    if not data:
                        if self._framing == "close":
                            break
                        raise UpstreamConnectionError("the provider closed the connection mid-answer")
                    self._left -= len(data)
                    yield data
            self._done = True
        except TimeoutError:
            raise UpstreamTimeout("the provider stopped sending") from None
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError, OSError) as exc:
            raise UpstreamConnectionError(f"the answer broke off ({type(exc).__name__})") from None

    @staticmethod
    async def _dechunk(reader: asyncio.StreamReader, limit: float) -> AsyncIterator[bytes]:
        buffer = bytearray()
        while True:
            frames: list[bytes] = []
            while (line_end := buffer.find(b"\r\n")) >= 0:
                size = int(bytes(buffer[:line_end]).split(b";", 1)[0], 16)
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
            async with asyncio.timeout(limit):
                data = await reader.read(65536)
            if not data:
                raise UpstreamConnectionError("the provider closed the connection mid-answer")
            buffer += data

    async def aread(self) -> bytes:
        return b"".join([chunk async for chunk in self.aiter_bytes()])

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


class Http1Pool:
    def __init__(
        self,
        base_url: str,
        *,
        max_connections: int,
        connect_timeout: float,
        read_timeout: float,
        query: Mapping[str, str] | None = None,
    ) -> None:
        parts = urlsplit(base_url)
        self.tls = parts.scheme == "https"
        self.host = parts.hostname or ""
        self.port = parts.port or (443 if self.tls else 80)
        self.base_path = parts.path.rstrip("/")
        self.query = urlencode(dict(query or {}))
        default_port = self.port == (443 if self.tls else 80)
        self.host_header = (self.host if ":" not in self.host else f"[{self.host}]") + (
            "" if default_port else f":{self.port}"
        )
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self._ssl = ssl.create_default_context(cafile=certifi.where()) if self.tls else None
        self._idle: list[_Connection] = []
        self._slots = asyncio.Semaphore(max_connections)
        self._closed = False

    def target(self, path: str) -> str:
        full = self.base_path + path
        return f"{full}?{self.query}" if self.query else full

    async def post(self, path: str, headers: Mapping[str, str], body: bytes) -> Response:
        target = self.target(path)
        head = [f"POST {target} HTTP/1.1\r\nhost: {self.host_header}\r\ncontent-length: {len(body)}\r\n"]
        head += [f"{name}: {value}\r\n" for name, value in headers.items()]
        message = "".join(head).encode("latin-1") + b"\r\n" + body
        await self._slots.acquire()
        try:
            for _ in range(3):
                conn = await self._connection()
                try:
                    return await self._exchange(conn, message)
                except _Stale:
                    conn.close()  # the server closed it while idle: nothing was sent, try another
            raise UpstreamConnectionError("the provider keeps closing connections")
        except BaseException:
            self._slots.release()
            raise

    def release(self, conn: _Connection, *, keep: bool) -> None:
        if keep and not self._closed and conn.usable():
            conn.reused = True
            self._idle.append(conn)
        else:
            conn.close()
        self._slots.release()

    async def aclose(self) -> None:
        self._closed = True
        idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    async def _connection(self) -> _Connection:
        while self._idle:
            conn = self._idle.pop()
            if conn.usable():
                return conn
            conn.close()
        try:
            async with asyncio.timeout(self.connect_timeout):
                reader, writer = await asyncio.open_connection(
                    self.host, self.port, ssl=self._ssl, server_hostname=self.host if self.tls else None,
                    limit=_HEAD_LIMIT,
                )  # fmt: skip
        except TimeoutError:
            raise UpstreamTimeout(f"could not connect to {self.host}:{self.port} in time") from None
        except OSError as exc:
            raise UpstreamConnectionError(
                f"could not connect to {self.host}:{self.port} ({exc.strerror or exc})"
            ) from None
        return _Connection(reader, writer)

    async def _exchange(self, conn: _Connection, message: bytes) -> Response:
        try:
            conn.writer.write(message)
            async with asyncio.timeout(self.read_timeout):
                await conn.writer.drain()
                raw = await conn.reader.readuntil(b"\r\n\r\n")
        except TimeoutError:
            conn.close()
            raise UpstreamTimeout("the provider did not answer in time") from None
        except asyncio.IncompleteReadError as exc:
            conn.close()
            if conn.reused and not exc.partial:
                raise _Stale from None
            raise UpstreamConnectionError("the provider closed the connection") from None
        except (OSError, asyncio.LimitOverrunError) as exc:
            conn.close()
            if conn.reused and isinstance(exc, ConnectionError):
                raise _Stale from None
            raise UpstreamConnectionError(f"the exchange failed ({type(exc).__name__})") from None
        except BaseException:  # cancelled: the connection is in an unknown state
            conn.close()
            raise
        return self._response(conn, raw)

    def _response(self, conn: _Connection, raw: bytes) -> Response:
        lines = raw.decode("latin-1").split("\r\n")
        try:
            status = int(lines[0].split(" ", 2)[1])
        except (IndexError, ValueError):
            conn.close()
            raise UpstreamConnectionError(f"not an HTTP answer: {lines[0][:80]!r}") from None
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if sep:
                headers[name.strip().lower()] = value.strip()
        length = 0
        if status in _NO_BODY or 100 <= status < 200:
            framing = "none"
        elif "chunked" in headers.get("transfer-encoding", "").lower():
            framing = "chunked"
        elif "content-length" in headers:
            length = int(headers["content-length"])
            framing = "length" if length else "none"
        else:
            framing = "close"
        return Response(self, conn, status, headers, framing, length)


class _Stale(Exception):
    """A reused connection turned out closed before any answer: send the request again."""
