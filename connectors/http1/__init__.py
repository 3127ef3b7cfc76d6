"""A lean keep-alive HTTP/1.1 client, one connection pool per upstream origin: model providers
(broker/llm) and the HTTP connector's upstreams (connectors/http).

Why not a library here: measured on this machine, an httpx.AsyncClient costs ~0.45 ms of CPU
per request on one connection and ~1 ms at 64 concurrent connections (its pool does work in
proportion to its size on every request), and an aiohttp adapter cost 1.3-1.9x this
client's gateway CPU per call with a 3-5x p99 at 64 connections (bench/llm_proxy.py); either
would cap the proxy below its target (bench/http_connector.py shows the same for the HTTP
connector). This client does only what an upstream call needs: a request with an optional
body, status and headers, then the body whole or as it arrives (Content-Length, chunked, or
until close), over plain TCP or TLS (certifi's CA bundle plus BROKER_CA_BUNDLE), directly or
through an HTTPS proxy (a CONNECT tunnel), with connect and read timeouts. It resolves
nothing itself when given the `address` to connect to (connectors/netguard.py checks it
first); TLS still checks the certificate against the host name. It never follows redirects
and never decodes a Content-Encoding (the caller sent the Accept-Encoding, it decodes).
Idle connections are reused last-in first-out; one that the server closed while idle is
replaced, and the request sent again when the caller allows it (`resend`: a server may close
a kept-alive connection after reading a request it did not act on, or after acting on it).

It is strict where a lenient client would be exploited: a header name or value with a
control character is refused before anything is sent (header injection), interim 1xx
answers are skipped, and every malformed answer (status line, Content-Length, chunk size, a
body cut short) is an `UpstreamConnectionError`, which the proxy turns into its provider
error (a clean 502, fallback eligible).
"""

from __future__ import annotations

import asyncio
import base64
import re
import time
from collections.abc import Mapping
from urllib.parse import unquote, urlencode, urlsplit

from connectors import outbound
from connectors.http1.response import (
    MAX_BODY_BYTES,
    ConnectFailed,
    ProtocolViolation,
    Response,
    ResponseTooLarge,
    UpstreamConnectionError,
    UpstreamTimeout,
    _Connection,
    _within,
)

_HEAD_LIMIT = 1024 * 1024
_NO_BODY = frozenset({204, 304})
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_UNSAFE_VALUE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_TOKENS = re.compile(rf"{_TOKEN.pattern}(?:\n{_TOKEN.pattern})*")
"""Header names joined by LF, each one a token (when there are as many LFs as joins)."""
_STATUS_LINE = re.compile(r"HTTP/1\.[01] ([1-9][0-9]{2})(?: (.*))?")
_MAX_INTERIM = 10

__all__ = [
    "MAX_BODY_BYTES",
    "ConnectFailed",
    "Http1Pool",
    "ProtocolViolation",
    "Response",
    "ResponseTooLarge",
    "UpstreamConnectionError",
    "UpstreamTimeout",
    "header_problem",
]


def header_problem(name: str, value: str) -> str | None:
    """Why a header cannot be sent as is (a CR, LF or other control character: an injected
    header or request), or None."""
    if not _TOKEN.fullmatch(name):
        return f"the header name {name[:40]!r} is not an HTTP token"
    if _UNSAFE_VALUE.search(value):
        return f"the value of header '{name}' contains a line break or control character"
    return None


class Http1Pool:
    def __init__(
        self,
        base_url: str,
        *,
        max_connections: int,
        connect_timeout: float,
        read_timeout: float | None,
        query: Mapping[str, str] | None = None,
        proxy: str | None = None,
        max_body_bytes: int = MAX_BODY_BYTES,
        keepalive_seconds: float | None = None,
    ) -> None:
        """`base_url`: scheme, host, port and a base path for `post`. `proxy`: this upstream's
        proxy URL ("" for none), else BROKER_HTTPS_PROXY applies. `keepalive_seconds`: how long
        an idle connection is kept for reuse (None: until the server closes it). `read_timeout`
        bounds each wait for the answer; None when the caller bounds the whole exchange itself."""
        self.max_body_bytes = max_body_bytes
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
        self.keepalive_seconds = keepalive_seconds
        network = outbound.current()
        self._ssl = network.ssl_context() if self.tls else None
        self.proxy = network.proxy_for(parts.scheme, self.host, proxy)
        if self.proxy is not None:
            outbound.check_proxy_url(self.proxy)
        self._idle: list[_Connection] = []
        self._slots = asyncio.Semaphore(max_connections)
        self._closed = False

    def target(self, path: str) -> str:
        full = self.base_path + path
        return f"{full}?{self.query}" if self.query else full

    async def post(self, path: str, headers: Mapping[str, str], body: bytes) -> Response:
        """POST to the base path + `path` (a model provider's call; sent again up to twice on a
        kept-alive connection found closed)."""
        return await self.request("POST", self.target(path), headers, body, resend=2)

    async def request(
        self,
        method: str,
        target: str,
        headers: Mapping[str, str],
        body: bytes | None = None,
        *,
        address: str | None = None,
        resend: int = 0,
    ) -> Response:
        """Send `method target` (the request line's path and query, as given) with `headers`
        (Host and Content-Length are the pool's) and `body` (None: no Content-Length either).
        `address`: the checked address to connect to instead of resolving the host; ignored
        through the proxy, which resolves. `resend`: how many more times the request may be sent
        when a kept-alive connection turns out closed before any answer came."""
        names = "\n".join(headers)  # every name a token, no value with a control character but TAB:
        if (  # checked in two passes over them all; when one fails, the culprit is named
            _TOKENS.fullmatch(names) is None
            or names.count("\n") != len(headers) - 1
            or _UNSAFE_VALUE.search("\t".join(headers.values()))
        ):
            for name, value in headers.items():
                problem = header_problem(name, value)
                if problem is not None:
                    raise UpstreamConnectionError(f"refused to send the request: {problem}")
        head = f"{method} {target} HTTP/1.1\r\nhost: {self.host_header}\r\n"
        if body is not None:
            head += f"content-length: {len(body)}\r\n"
        lines = "".join([f"{name}: {value}\r\n" for name, value in headers.items()])
        message = (head + lines).encode("latin-1") + b"\r\n" + (body or b"")
        if self.proxy is not None:
            address = None
        await self._slots.acquire()
        try:
            for _ in range(resend + 1):
                conn = await self._connection(address)
                try:
                    return await self._exchange(conn, message)
                except _Stale:
                    conn.close()  # the server closed it while idle, before any answer
            raise UpstreamConnectionError("the upstream closed a kept-alive connection before answering")
        except BaseException:
            self._slots.release()
            raise

    def release(self, conn: _Connection, *, keep: bool) -> None:
        if keep and not self._closed and conn.usable():
            conn.reused = True
            if self.keepalive_seconds is not None:
                conn.idle_since = time.monotonic()
            self._idle.append(conn)
        else:
            conn.close()
        self._slots.release()

    async def aclose(self) -> None:
        self._closed = True
        idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    async def _connection(self, address: str | None) -> _Connection:
        expired = time.monotonic() - self.keepalive_seconds if self.keepalive_seconds is not None else None
        while self._idle:
            conn = self._idle.pop()
            if conn.address == address and conn.usable() and (expired is None or conn.idle_since > expired):
                return conn
            conn.close()  # closed by the server, idle too long, or the host now resolves elsewhere
        try:
            async with asyncio.timeout(self.connect_timeout):
                if self.proxy is not None:
                    return await self._tunnel(self.proxy)
                reader, writer = await asyncio.open_connection(
                    address or self.host, self.port, ssl=self._ssl,
                    server_hostname=self.host if self.tls else None, limit=_HEAD_LIMIT,
                )  # fmt: skip
        except TimeoutError:
            raise UpstreamTimeout(f"could not connect to {self.host}:{self.port} in time") from None
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
            detail = getattr(exc, "strerror", None) or exc
            raise ConnectFailed(
                f"could not connect to {self.host}:{self.port} ({detail})", str(detail)
            ) from None
        return _Connection(reader, writer, address)

    async def _tunnel(self, proxy: str) -> _Connection:
        """A connection to the upstream through an HTTP CONNECT tunnel, TLS inside it."""
        parts = urlsplit(proxy)
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port or 80, limit=_HEAD_LIMIT)
        authority = f"{self.host if ':' not in self.host else f'[{self.host}]'}:{self.port}"
        head = f"CONNECT {authority} HTTP/1.1\r\nhost: {authority}\r\n"
        if parts.username is not None:
            pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
            head += f"proxy-authorization: Basic {base64.b64encode(pair).decode()}\r\n"
        writer.write(head.encode("latin-1") + b"\r\n")
        try:
            answer = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
            status = _status(answer.split("\r\n", 1)[0])
            if status is None or not 200 <= status < 300:
                refusal = f"the proxy {parts.hostname}:{parts.port or 80} refused the tunnel to {authority}"
                raise ConnectFailed(f"{refusal} ({answer.split(chr(13), 1)[0][:80]!r})", refusal)
            if self._ssl is not None:
                await writer.start_tls(self._ssl, server_hostname=self.host)
        except BaseException:
            writer.close()
            raise
        return _Connection(reader, writer, None)

    async def _exchange(self, conn: _Connection, message: bytes) -> Response:
        try:
            conn.writer.write(message)
            limit = self.read_timeout
            raw = await (_head(conn) if limit is None else _within(limit, _head(conn)))
        except TimeoutError:
            conn.close()
            raise UpstreamTimeout("the upstream did not answer in time") from None
        except asyncio.IncompleteReadError as exc:
            conn.close()
            if conn.reused and not exc.partial:
                raise _Stale from None
            raise UpstreamConnectionError("the upstream closed the connection") from None
        except (OSError, asyncio.LimitOverrunError) as exc:
            conn.close()
            if conn.reused and isinstance(exc, ConnectionError):
                raise _Stale from None
            if isinstance(exc, asyncio.LimitOverrunError):
                raise ProtocolViolation("the answer's head is too large") from None
            raise UpstreamConnectionError(f"the exchange failed ({type(exc).__name__})") from None
        except BaseException:  # cancelled: the connection is in an unknown state
            conn.close()
            raise
        return self._response(conn, raw)

    def _response(self, conn: _Connection, raw: bytes) -> Response:
        lines = raw.decode("latin-1").split("\r\n")
        match = _STATUS_LINE.fullmatch(lines[0])
        status = int(match.group(1)) if match else None
        if match is None or status is None or status < 200:  # 101, or interim answers without end
            conn.close()
            raise ProtocolViolation(f"not an HTTP/1.1 answer: {lines[0][:80]!r}")
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if sep:
                headers[name.strip().lower()] = value.strip()
        length = 0
        if status in _NO_BODY:
            framing = "none"
        elif "chunked" in headers.get("transfer-encoding", "").lower():
            framing = "chunked"
        elif "content-length" in headers:
            declared = {item.strip() for item in headers["content-length"].split(",")}
            if len(declared) != 1 or not (text := declared.pop()).isdigit() or not text.isascii():
                conn.close()
                raise ProtocolViolation(
                    f"the upstream sent an invalid Content-Length: {headers['content-length'][:40]!r}"
                )
            length = int(text)
            framing = "length" if length else "none"
        else:
            framing = "close"
        return Response(self, conn, status, match.group(2) or "", headers, framing, length)


_INTERIM = frozenset({100, 102, 103})


async def _head(conn: _Connection) -> bytes:
    """The answer's head, once the request is on its way; interim answers (100 Continue,
    103 Early Hints) are skipped: the answer follows them."""
    await conn.writer.drain()
    raw = await conn.reader.readuntil(b"\r\n\r\n")
    for _ in range(_MAX_INTERIM):
        if raw[9:10] != b"1" or _status(raw[:64].split(b"\r\n", 1)[0].decode("latin-1")) not in _INTERIM:
            break  # "HTTP/1.x 1..": the only heads that may be interim
        raw = await conn.reader.readuntil(b"\r\n\r\n")
    return raw


def _status(line: str) -> int | None:
    match = _STATUS_LINE.fullmatch(line)
    return int(match.group(1)) if match else None


class _Stale(Exception):
    """A reused connection turned out closed before any answer: send the request again."""
