"""HTTP plumbing shared by the HTTP connector and the OpenAPI spec fetcher."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx

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
