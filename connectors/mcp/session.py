"""One connection to an upstream MCP server, and the plumbing around it.

The SDK's `Client` is an async context manager whose task groups must be exited by the
task that entered them, while the broker calls tools from many request tasks. So each
`Session` is entered and exited by a task of its own; callers use its `client` from
their tasks (the SDK wakes every waiter with CONNECTION_CLOSED when the connection ends).
"""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Mapping, Sequence
from contextlib import AsyncExitStack

import anyio
import httpx2
import mcp_types as types
from mcp.client.client import Client
from mcp.client.session import IncomingMessage, MessageHandlerFnT
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.client.subscriptions import ListenNotSupportedError
from mcp.shared.exceptions import MCPDeprecationWarning, MCPError
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from connectors.mcp import lean, lean_wire, relay
from connectors.mcp.lenient import Lenient
from connectors.mcp.stderr import StderrTail
from connectors.netguard import outbound_transport2

CLIENT_INFO = types.Implementation(name="tool-broker", version="0.1.0")
_ENVELOPE_SLACK = 64 * 1024
"""Room for the JSON-RPC envelope and SSE framing around a result of the largest allowed size."""
_STOP_SECONDS = 10.0
_RELISTEN_SECONDS = 1.0

_LIST_CHANGED = (
    types.ToolListChangedNotification,
    types.ResourceListChangedNotification,
    types.PromptListChangedNotification,
)

MessageHandler = MessageHandlerFnT
Opener = Callable[[AsyncExitStack, MessageHandler, Callable[[], None]], Awaitable[Client]]
"""Enters a connected `Client` (and whatever it needs) on the exit stack; the last argument is
to be called when the upstream process exits."""


class ResponseTooLarge(httpx2.StreamError):
    """An upstream HTTP response grew past the connector's limit (its text names `max_response_bytes`)."""


class Session:
    """A connected `Client`, owned by a task that enters it, waits, and exits it."""

    def __init__(
        self,
        opener: Opener,
        on_tools_changed: Callable[[], None],
        on_lost: Callable[[Session], None],
        on_updated: Callable[[str], None] = lambda uri: None,
    ) -> None:
        self._opener = opener
        self._on_tools_changed = on_tools_changed
        self._on_lost = on_lost
        self._on_updated = on_updated
        self._resources: set[str] = set()
        """URIs subscribed to on this session (2026-07-28: the listen stream's filter)."""
        self._relisten = asyncio.Event()
        self._lost = False
        self._client: Client | None = None
        self._ready = asyncio.Event()
        self._stop = asyncio.Event()
        self.closed = asyncio.Event()
        self.error: BaseException | None = None
        self._task: asyncio.Task[None] | None = None
        self._scope = anyio.CancelScope()

    @property
    def client(self) -> Client:
        assert self._client is not None, "the session is not connected"
        return self._client

    @property
    def alive(self) -> bool:
        return self._client is not None and not self.closed.is_set() and not self._stop.is_set()

    async def start(self, within_seconds: float) -> None:
        """Connect in time; raise what connecting raised (TimeoutError if too slow)."""
        self._task = asyncio.create_task(self._run(), name="mcp-upstream-session")
        try:
            async with asyncio.timeout(within_seconds):
                await self._ready.wait()
        except BaseException:
            await self.stop()
            raise
        if self._client is None:
            await self.stop()
            if self.error is None or isinstance(self.error, asyncio.CancelledError):
                raise ConnectionError("the session was closed while connecting")
            raise self.error

    def lost(self) -> None:
        """The connection or process ended by itself: close what is left, then report it."""
        if not self._stop.is_set():
            self._lost = True
            self._stop.set()

    async def stop(self) -> None:
        """Close the connection and wait for the owner task (stdio: the process is terminated)."""
        self._stop.set()
        if self._task is None or self._task.done():
            return
        if self._client is None:  # still connecting: nothing to close politely
            self._scope.cancel()
        done, _ = await asyncio.wait({self._task}, timeout=_STOP_SECONDS)
        if not done:
            self._scope.cancel()
            await asyncio.wait({self._task}, timeout=_STOP_SECONDS)

    async def _run(self) -> None:
        # Stopped through an anyio cancel scope, never `Task.cancel()`: the SDK's transports
        # shield their clean-up (closing the stdio process) from anyio cancellation only, so a
        # native cancel could cut it short and leave a reader draining a live process forever.
        with self._scope:
            await self._run_client()

    async def _run_client(self) -> None:
        try:
            async with AsyncExitStack() as stack:
                client = await self._opener(stack, self._on_message, self.lost)
                self._client = client
                self._ready.set()
                listener = None
                if client.protocol_version in MODERN_PROTOCOL_VERSIONS:
                    listener = asyncio.create_task(self._listen(client))
                try:
                    await self._stop.wait()
                finally:
                    if listener is not None:
                        listener.cancel()
                        await asyncio.wait({listener})
        except BaseException as exc:  # kept for the callers' error messages; the task ends quietly
            self.error = exc
            if isinstance(exc, asyncio.CancelledError):
                raise
        finally:
            self.closed.set()
            self._ready.set()
            if self._client is not None and (self._lost or not self._stop.is_set()):
                self._on_lost(self)

    async def watch_resource(self, uri: str, subscribe: bool) -> None:
        """Subscribe to (or unsubscribe from) `notifications/resources/updated` for `uri`: a
        request on a 2025 session, the filter of the listen stream (opened again) on 2026-07-28."""
        client = self.client
        if client.protocol_version not in MODERN_PROTOCOL_VERSIONS:
            with warnings.catch_warnings():  # removed at 2026-07-28, still how a 2025 server is asked
                warnings.simplefilter("ignore", MCPDeprecationWarning)
                if subscribe:
                    await client.subscribe_resource(uri)
                else:
                    await client.unsubscribe_resource(uri)
            return
        known = uri in self._resources
        if subscribe and not known:
            self._resources.add(uri)
        elif not subscribe and known:
            self._resources.discard(uri)
        else:
            return
        self._relisten.set()

    async def _listen(self, client: Client) -> None:
        """Follow `subscriptions/listen` (2026-07-28); open it again when the subscribed URIs change."""
        while True:
            self._relisten.clear()
            follow = asyncio.create_task(self._follow(client))
            wake = asyncio.create_task(self._relisten.wait())
            try:
                await asyncio.wait({follow, wake}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in (follow, wake):
                    task.cancel()
                await asyncio.wait({follow, wake})
            if self._relisten.is_set():
                continue
            if not follow.cancelled() and follow.result():
                return
            await asyncio.sleep(_RELISTEN_SECONDS)

    async def _follow(self, client: Client) -> bool:
        """One listen stream until it ends; True when the upstream does not offer one."""
        try:
            async with client.listen(
                tools_list_changed=True,
                prompts_list_changed=True,
                resources_list_changed=True,
                resource_subscriptions=sorted(self._resources),
            ) as subscription:
                if not subscription.honored or not subscription.honored.tools_list_changed:
                    return True
                async for _ in subscription:  # events reach `_on_message` too (the SDK tees them)
                    pass
        except (ListenNotSupportedError, MCPError):
            return True
        except Exception:  # lost: events may have been missed, so re-check and re-listen
            self._on_tools_changed()
        return False

    async def _on_message(self, message: IncomingMessage) -> None:
        if isinstance(message, _LIST_CHANGED):  # tools, resources and prompts are listed together
            self._on_tools_changed()
        elif isinstance(message, types.ResourceUpdatedNotification):
            self._on_updated(message.params.uri)


class LiveHeaders(httpx2.Auth):
    """Sets the headers `current()` gives on every request, so a long-lived session sends the
    credentials of the latest call (a renewed OAuth token) without reconnecting."""

    def __init__(self, current: Callable[[], Mapping[str, str]]) -> None:
        self._current = current

    def auth_flow(self, request: httpx2.Request) -> Generator[httpx2.Request, httpx2.Response, None]:
        request.headers.update(self._current())
        yield request

    def headers(self) -> Mapping[str, str]:
        return self._current()


def http_opener(
    url: str,
    headers: Mapping[str, str],
    timeout: float,
    limit: int,
    on_status: Callable[[int], None],
    *,
    auth: httpx2.Auth | None = None,
    allow_private_network: bool = False,
    legacy: bool = False,
) -> Opener:
    """Streamable HTTP, protocol negotiated ("auto": 2026-07-28, else 2025-11-25; `legacy`:
    2025-11-25 with the initialize handshake, see `relay`); `on_status`
    hears every HTTP status (the SDK reports an HTTP error without its status). Requests go
    through the outbound guard unless `allow_private_network`."""

    async def open_client(stack: AsyncExitStack, on_message: MessageHandler, _: Callable[[], None]) -> Client:
        inner = outbound_transport2(allow_private_network)
        http = await stack.enter_async_context(
            httpx2.AsyncClient(
                headers={**headers, "Accept-Encoding": "identity"},
                auth=auth,
                timeout=httpx2.Timeout(timeout, read=max(timeout, 300.0)),
                transport=BoundedTransport(inner, limit, on_status),
                trust_env=False,
            )
        )
        transport = Lenient(
            streamable_http_client(url, http_client=http, max_sse_event_size=limit + _ENVELOPE_SLACK)
        )
        client = Client(
            transport,
            mode="legacy" if legacy else "auto",
            cache=None,
            message_handler=on_message,
            client_info=CLIENT_INFO,
            **relay.CLIENT_CALLBACKS,
        )
        entered = await stack.enter_async_context(client)
        relay.declare_per_caller(entered)
        live = auth.headers if isinstance(auth, LiveHeaders) else dict
        too_large = f"the response exceeds the {size_text(limit)} limit (max_response_bytes)"
        wire = lean_wire.Wire(
            http, url, {**headers, "Accept-Encoding": "identity"}, live,
            limit + _ENVELOPE_SLACK, too_large, timeout, on_status,
            allow_private_network=allow_private_network,
        )  # fmt: skip
        stack.push_async_callback(wire.aclose)
        lean.install(entered, wire, on_message)
        return entered

    return open_client


def stdio_opener(
    command: Sequence[str], env: Mapping[str, str], cwd: str | None, stderr: StderrTail
) -> Opener:
    """A child process speaking MCP on stdin/stdout; its stderr goes to `stderr`."""

    async def open_client(
        stack: AsyncExitStack, on_message: MessageHandler, on_exit: Callable[[], None]
    ) -> Client:
        params = StdioServerParameters(command=command[0], args=list(command[1:]), env=dict(env), cwd=cwd)
        errlog = await stderr.pipe(stack, on_exit)
        client = Client(
            Lenient(stdio_client(params, errlog=errlog)),
            cache=None,
            message_handler=on_message,
            **relay.CLIENT_CALLBACKS,
        )
        entered = await stack.enter_async_context(client)
        errlog.close()  # the child holds its own copy; EOF on the pipe now means it exited
        relay.declare_per_caller(entered)
        return entered

    return open_client


class BoundedTransport(httpx2.AsyncBaseTransport):
    """Caps every JSON response body at `limit` plus envelope room, and refuses compressed
    bodies (the client asks for identity), so a size is a size."""

    def __init__(
        self, inner: httpx2.AsyncBaseTransport, limit: int, on_status: Callable[[int], None]
    ) -> None:
        self._inner = inner
        self._limit = limit + _ENVELOPE_SLACK
        self._stated = limit
        self._on_status = on_status

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        response = await self._inner.handle_async_request(request)
        self._on_status(response.status_code)
        encoding = response.headers.get("content-encoding", "identity").lower()
        if encoding not in ("", "identity"):
            await response.aclose()
            raise httpx2.DecodingError(f"the upstream sent a {encoding}-encoded body; identity was asked for")
        if response.headers.get("content-type", "").lower().startswith("text/event-stream"):
            return response  # long-lived streams: the SDK caps each event (max_sse_event_size)
        assert isinstance(response.stream, httpx2.AsyncByteStream)
        return httpx2.Response(
            response.status_code,
            headers=response.headers,
            stream=_BoundedStream(response.stream, self._limit, self._stated),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        await self._inner.aclose()


class _BoundedStream(httpx2.AsyncByteStream):
    def __init__(self, inner: httpx2.AsyncByteStream, limit: int, stated: int) -> None:
        self._inner = inner
        self._limit = limit
        self._stated = stated

    async def __aiter__(self) -> AsyncIterator[bytes]:
        seen = 0
        async for chunk in self._inner:
            seen += len(chunk)
            if seen > self._limit:
                raise ResponseTooLarge(
                    f"the response exceeds the {size_text(self._stated)} limit (max_response_bytes)"
                )
            yield chunk

    async def aclose(self) -> None:
        await self._inner.aclose()


def size_text(size: int) -> str:
    if size % (1024 * 1024) == 0:
        return f"{size // (1024 * 1024)} MiB"
    if size % 1024 == 0:
        return f"{size // 1024} KiB"
    return f"{size} bytes"
