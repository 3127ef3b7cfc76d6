"""HTTP plumbing shared by the HTTP connector and the OpenAPI spec fetcher."""

from __future__ import annotations

import json
import re
import zlib
from typing import Any

import httpx

from connectors import http1
from connectors.fields import MIB
from connectors.scrub import NO_SCRUB, Scrubber

_WHITESPACE = re.compile(r"\s+")
_ERROR_FIELDS = ("detail", "message", "error", "error_description", "title", "errors")


class BorrowedTransport(httpx.AsyncBaseTransport):
    """Wraps a transport the caller owns, so closing our client leaves it open for others."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self._inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        """The owner closes the inner transport."""


async def read_bounded(response: httpx.Response, limit: int) -> tuple[bytes, bool]:
    """Read at most `limit` decoded bytes; the flag says the body was longer.

    Decoded bytes are counted, so a small compressed answer cannot expand past the limit.
    """
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return b"", True
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        if size + len(chunk) > limit:
            chunks.append(chunk[: limit - size])
            return b"".join(chunks), True
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks), False


class UndecodableBody(Exception):
    """The body does not decode as its Content-Encoding says."""


class _Inflate:
    """gzip or deflate, decoded as httpx does (deflate: zlib-wrapped, else raw)."""

    def __init__(self, encoding: str) -> None:
        self._gzip = encoding == "gzip"
        self._raw_tried = False
        self._inflater = zlib.decompressobj(zlib.MAX_WBITS | 16 if self._gzip else zlib.MAX_WBITS)

    def decode(self, data: bytes, most: int = 0) -> bytes:
        """Up to `most` bytes of output (0: all); what is left waits in `pending`."""
        try:
            return self._inflater.decompress(data, most)
        except zlib.error as exc:
            if self._gzip or self._raw_tried:
                raise UndecodableBody(str(exc)) from None
            self._raw_tried = True
            self._inflater = zlib.decompressobj(-zlib.MAX_WBITS)
            return self.decode(data, most)

    @property
    def pending(self) -> bool:
        return bool(self._inflater.unconsumed_tail)

    def flush(self) -> bytes:
        try:
            return self._inflater.flush()
        except zlib.error as exc:
            raise UndecodableBody(str(exc)) from None


async def read_decoded(response: http1.Response, limit: int) -> tuple[bytes, bool]:
    """`read_bounded` for the lean client: the body decoded as its Content-Encoding says
    (gzip, deflate; others pass as they are, as with httpx), at most `limit` decoded bytes,
    and whether there was more. A compressed answer is inflated no further than the limit."""
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return b"", True
    encoding = response.headers.get("content-encoding")
    if encoding is None and (length := response.length) is not None and length <= limit:
        return await response.aread(), False  # no async generator for the common answer
    names = [part.strip().lower() for part in (encoding or "").split(",")]
    stages = [_Inflate(name) for name in reversed(names) if name in ("gzip", "deflate")]
    chunks: list[bytes] = []
    size = 0
    async for data in response.aiter_bytes():
        if stages:
            for stage in stages[:-1]:
                data = stage.decode(data)
            data = stages[-1].decode(data, limit - size + 1)
            if stages[-1].pending:
                return b"".join(chunks), True
        if size + len(data) > limit:
            chunks.append(data[: limit - size])
            return b"".join(chunks), True
        chunks.append(data)
        size += len(data)
    tail = b""
    for stage in stages:  # what each stage still holds, through the stages after it
        tail = (stage.decode(tail) if tail else b"") + stage.flush()
    if size + len(tail) > limit:
        return b"".join(chunks) + tail[: limit - size], True
    return b"".join(chunks) + tail, False


def size_text(n: int) -> str:
    """1048576 -> '1 MiB', 2048 -> '2 KiB', 1000 -> '1000 bytes'."""
    if n >= MIB and n % MIB == 0:
        return f"{n // MIB} MiB"
    if n >= 1024 and n % 1024 == 0:
        return f"{n // 1024} KiB"
    return f"{n} bytes"


def host_port(url: httpx.URL) -> str:
    port = url.port or (443 if url.scheme == "https" else 80)
    return f"{url.host}:{port}"


def excerpt(text: str, secrets: Scrubber = NO_SCRUB, limit: int = 200) -> str:
    """One short line of upstream text with known secret values blanked out."""
    text = secrets.text(text)
    text = _WHITESPACE.sub(" ", "".join(ch if ch.isprintable() else " " for ch in text)).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def error_message(body: bytes) -> str:
    """The upstream's own error message: a well-known JSON field if there is one, else the text."""
    try:
        value: Any = json.loads(body)
    except (ValueError, RecursionError):
        return body.decode("utf-8", errors="replace")
    for _ in range(3):
        if not isinstance(value, dict):
            break
        found = next((value[key] for key in _ERROR_FIELDS if value.get(key)), None)
        if found is None:
            break
        value = found
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def transport_problem(exc: httpx.TransportError, url: httpx.URL) -> str:
    """Say what failed on the way to the upstream, naming host:port but never the full URL."""
    detail = str(exc) or type(exc).__name__
    if isinstance(exc, httpx.ConnectError):
        return f"cannot connect to {host_port(url)} ({detail})"
    if isinstance(exc, httpx.ProtocolError):
        return f"{host_port(url)} broke the HTTP protocol ({detail})"
    return f"connection to {host_port(url)} failed ({detail})"
