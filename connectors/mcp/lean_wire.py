"""The wire side of a lean post (`lean.py`): one JSON-RPC POST over the lean HTTP/1.1 client
(`connectors/http1/`) with what the session's httpx2 client would send (its headers, the call's
credentials, identity encoding, the outbound guard's checked address, the same size cap), and
its answer read as the SDK's `StreamableHTTPTransport` reads it: JSON, or SSE up to the first
response. A redirect is followed the SDK's way (the session's httpx2 client posts again: a 3xx
means the upstream did not run the call); the lean client's failures surface as the httpx2
errors the SDK path raises, so the connector reports them alike. On an SSE stream, list-changed
and resource-updated notifications go to `on_notice` as typed notifications; log messages
nobody asked for and progress without a token are dropped, as the SDK drops them.
"""

from __future__ import annotations

import codecs
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import httpx2
import mcp_types as types
from httpx2 import EventSource
from httpx2._sse import _SSEParser
from mcp.client.streamable_http import _unfollowed_redirect
from mcp.shared._httpx_utils import stream_within_origin
from mcp_types.jsonrpc import jsonrpc_message_adapter
from pydantic import ValidationError

from connectors import http1
from connectors.jsonwire import compact_json
from connectors.mcp import answers
from connectors.netguard import AddressResolver, checked_address

log = logging.getLogger(__name__)

_NOTICES = frozenset(
    {
        "notifications/tools/list_changed",
        "notifications/resources/list_changed",
        "notifications/prompts/list_changed",
        "notifications/resources/updated",
    }
)

Notice = Callable[[Any], Awaitable[None]]
"""Where a notice on a lean post's stream goes (the session's message handler)."""


class Wire:
    """The session's HTTP side as a lean post uses it: the lean pool, and the session's httpx2
    client for what the pool does not do (a redirect)."""

    def __init__(
        self,
        http: httpx2.AsyncClient,
        url: str,
        headers: Mapping[str, str],
        live: Callable[[], Mapping[str, str]],
        limit: int,
        too_large: str,
        timeout: float,
        on_status: Callable[[int], None],
        *,
        allow_private_network: bool,
    ) -> None:
        """`headers`: what the session's httpx2 client sends on every request; `live`: the
        call's credentials on top of them (LiveHeaders; often none). `limit`: the most a JSON
        answer or one SSE event may bring; `too_large` says so (the session's own words, which
        the connector recognises)."""
        parts = urlsplit(url)
        self.http = http
        self.url = url
        self.target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self._headers = headers
        self._live = live
        self._lowered = _lowered(headers)
        self.limit = limit
        self.too_large = too_large
        self.on_status = on_status
        # No bound per read: every lean post runs within `Upstream.use`'s bound of the whole call
        # (timeout_seconds, at most 300 s), so the per-read bound of the session's httpx2 client,
        # max(timeout, 300 s), could never fire first; it cost two asyncio timeouts per call.
        self.pool = http1.Http1Pool(
            url, max_connections=100, connect_timeout=timeout, read_timeout=None, max_body_bytes=2 * limit,
        )  # fmt: skip
        self._parsed = httpx2.URL(url)
        self._resolver = None if allow_private_network else AddressResolver()

    def headers(self) -> dict[str, str]:
        """The session's headers and the call's credentials, names in lower case (a later one of
        the same name wins). Without credentials the same every call: lowered once."""
        live = self._live()
        return _lowered({**self._headers, **live}) if live else self._lowered

    async def address(self) -> str | None:
        """The checked address to connect to (None: any, private networks allowed)."""
        return None if self._resolver is None else str(await checked_address(self._resolver, self._parsed))

    async def aclose(self) -> None:
        await self.pool.aclose()


def _lowered(headers: Mapping[str, str]) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}


class _AsHttpx2:
    """The lean client's failures as the httpx2 errors the session's client raises (a class
    rather than a generator-based context manager: it runs twice per call)."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, exc: BaseException | None, traceback: object) -> None:
        if exc is None or isinstance(exc, http1.ResponseTooLarge):  # the caller says it in its own words
            return
        if isinstance(exc, http1.ConnectFailed):
            raise httpx2.ConnectError(str(exc)) from None
        if isinstance(exc, http1.UpstreamTimeout):
            raise httpx2.ReadTimeout(str(exc)) from None
        if isinstance(exc, http1.ProtocolViolation):
            raise httpx2.RemoteProtocolError(str(exc)) from None
        if isinstance(exc, http1.UpstreamConnectionError):
            raise httpx2.ReadError(str(exc)) from None


_as_httpx2 = _AsHttpx2()


async def exchange(
    wire: Wire, body: dict[str, Any], headers: dict[str, str], on_notice: Notice
) -> dict[str, Any] | types.ErrorData:
    """One POST, its answer read as `StreamableHTTPTransport._handle_post_request` reads it."""
    sent = {**wire.headers(), **_lowered(headers)}
    content = compact_json(body).encode()
    address = await wire.address()
    with _as_httpx2:
        response = await wire.pool.request("POST", wire.target, sent, content, address=address)
    try:
        status = response.status_code
        wire.on_status(status)
        encoding = response.headers.get("content-encoding", "identity").lower()
        if encoding not in ("", "identity"):
            raise httpx2.DecodingError(f"the upstream sent a {encoding}-encoded body; identity was asked for")
        if 300 <= status < 400:  # not run upstream: the SDK's way follows it within the origin
            await response.aclose()
            return await _exchange_httpx2(wire, body, headers, on_notice)
        if status == 202:
            return types.ErrorData(
                code=types.INVALID_REQUEST, message="server answered a request with 202 Accepted"
            )
        content_type = response.headers.get("content-type", "").lower()
        if status >= 400:
            if content_type.startswith("application/json"):
                with contextlib.suppress(
                    http1.UpstreamConnectionError, http1.UpstreamTimeout, ValidationError
                ):
                    parsed = jsonrpc_message_adapter.validate_json(await response.aread(), by_name=False)
                    if isinstance(parsed, types.JSONRPCError):
                        return parsed.error
            return answers.refused(status)
        if content_type.startswith("application/json"):
            try:
                with _as_httpx2:
                    answer = await response.aread()
            except http1.ResponseTooLarge:
                return answers.unparsed(wire.too_large)
            if len(answer) > wire.limit:
                return answers.unparsed(wire.too_large)
            if (result := answers.plain_result(answer, big=_is_call(body))) is not None:
                return result
            try:
                return answers.answer(await answers.message(answer))
            except ValueError as exc:  # pydantic's ValidationError, JSONDecodeError, UnicodeDecodeError
                return answers.unparsed(exc)
        if content_type.startswith("text/event-stream"):
            try:
                with _as_httpx2:
                    return await _events(_sse(response, wire.limit), on_notice, _is_call(body))
            except http1.ResponseTooLarge:
                return types.ErrorData(
                    code=types.CONNECTION_CLOSED, message=f"SSE stream failed: {wire.too_large}"
                )
        return types.ErrorData(code=types.INVALID_REQUEST, message=f"Unexpected content type: {content_type}")
    finally:
        await response.aclose()


async def _exchange_httpx2(
    wire: Wire, body: dict[str, Any], headers: dict[str, str], on_notice: Notice
) -> dict[str, Any] | types.ErrorData:
    """The same POST with the session's httpx2 client, redirects followed within the origin."""
    async with stream_within_origin(wire.http, "POST", wire.url, json=body, headers=headers) as response:
        status = response.status_code
        if status == 202:
            return types.ErrorData(
                code=types.INVALID_REQUEST, message="server answered a request with 202 Accepted"
            )
        if (redirect := _unfollowed_redirect(response)) is not None:
            log.warning(redirect)
            return types.ErrorData(code=types.INVALID_REQUEST, message=redirect)
        content_type = response.headers.get("content-type", "").lower()
        if status >= 400:
            if content_type.startswith("application/json"):
                try:
                    parsed = jsonrpc_message_adapter.validate_json(await response.aread(), by_name=False)
                    if isinstance(parsed, types.JSONRPCError):
                        return parsed.error
                except (httpx2.StreamError, ValidationError):
                    pass
            return answers.refused(status)
        if content_type.startswith("application/json"):
            try:
                parsed = jsonrpc_message_adapter.validate_json(await response.aread(), by_name=False)
                return answers.answer(parsed)
            except (httpx2.StreamError, ValidationError) as exc:
                return answers.unparsed(exc)
        if content_type.startswith("text/event-stream"):
            events = EventSource(response, max_event_size=wire.limit).__aiter__()
            return await _events(events, on_notice, _is_call(body))
        return types.ErrorData(code=types.INVALID_REQUEST, message=f"Unexpected content type: {content_type}")


def _is_call(body: dict[str, Any]) -> bool:
    """A tools/call: its answer, however big, is read in one pass (`answers.plain_result`)."""
    return bool(body["method"] == "tools/call")


async def _sse(response: http1.Response, limit: int) -> AsyncIterator[Any]:
    """The events of an SSE body, parsed as httpx2's EventSource parses them."""
    parser = _SSEParser(limit)
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    async for chunk in response.aiter_bytes():
        for sse in parser.decode(decoder.decode(chunk)):
            yield sse
    for sse in parser.decode(decoder.decode(b"", final=True)):
        yield sse
    for sse in parser.flush():
        yield sse


async def _events(
    events: AsyncIterator[Any], on_notice: Notice, big: bool
) -> dict[str, Any] | types.ErrorData:
    try:
        async for sse in events:
            if sse.event != "message" or not sse.data:
                continue
            if (result := answers.plain_result(sse.data, big=big)) is not None:
                return result
            try:
                message = await answers.message(sse.data)
            except ValueError as exc:
                log.exception("Error parsing SSE message")
                return types.ErrorData(code=types.PARSE_ERROR, message=f"Failed to parse SSE message: {exc}")
            if isinstance(message, types.JSONRPCResponse | types.JSONRPCError):
                return answers.answer(message)
            if isinstance(message, types.JSONRPCNotification) and message.method in _NOTICES:
                await on_notice(
                    types.server_notification_adapter.validate_python(
                        message.model_dump(by_alias=True, exclude_none=True), by_name=False
                    )
                )
            # log messages nobody opted into, progress without a token, requests to a caller that
            # can answer none: dropped, as the SDK's session drops or refuses them for this caller
    except httpx2.SSEError as exc:
        return types.ErrorData(code=types.CONNECTION_CLOSED, message=f"SSE stream failed: {exc}")
    return types.ErrorData(code=types.CONNECTION_CLOSED, message="SSE stream ended without a response")
