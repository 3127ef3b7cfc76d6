"""The running `kind: mcp` connector: pinned tools out, checked calls in.

Agents see only the pinned definitions. Before a call the connector re-lists the upstream's
tools when it has reason to (a `list_changed` notification, a new connection, a listing
older than `recheck_seconds`) and refuses the call when the tool's live definition no
longer hashes to its pin: a changed or removed tool is quarantined until an operator
approves the difference. One long-lived session per connector, opened on first use,
reopened on failure; a stdio server is restarted when it exits (bounded, with backoff).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

import httpx2
import mcp_types as types
from mcp.client.client import Client
from mcp.shared.exceptions import MCPError

from connectors._mcp_config import McpConnectorConfig, exposable, exposed_name
from connectors._mcp_pins import Definition, Drift, PinnedTool, compute_drift, definition_of, pin_of
from connectors._mcp_session import (
    Opener,
    Session,
    StderrTail,
    http_opener,
    leaf_error,
    size_text,
    stdio_opener,
    upstream_error,
)
from connectors.base import NO_CONTEXT, CallContext, ToolOutput, ToolSpec
from connectors.errors import (
    ConnectorConfigError,
    ConnectorError,
    UnknownTool,
    UpstreamBadResponse,
    UpstreamError,
)

T = TypeVar("T")
log = logging.getLogger(__name__)

CONNECT_DELAYS = (0.0, 0.2, 0.5)
"""Pauses before each attempt to (re)connect for a call: three attempts, then the call fails."""
MAX_RESTARTS = 5
"""Restarts of an exited stdio server in a row (no successful call between them)."""
MAX_PAGES = 100
"""Pages of tools/list followed; a paginator that never ends cannot hang a call."""


class ToolQuarantined(ConnectorError):
    """The tool's upstream definition no longer matches its pin; calls wait for an operator."""


class McpConnector:
    """Calls the pinned tools of one upstream MCP server over one long-lived session."""

    def __init__(self, config: McpConnectorConfig) -> None:
        if config.tools is None:
            raise ConnectorConfigError(
                f"connector '{config.name}' has no pinned tools yet: register it first"
            )
        self.config = config
        self._pinned = {tool.name: tool for tool in config.tools}
        self._pins = dict(config.pins)
        self._secrets = config.secret_values()
        self._stderr = StderrTail()
        self._opener = self._make_opener()
        self._session: Session | None = None
        self._connecting = asyncio.Lock()
        self._live: dict[str, tuple[Definition, str]] | None = None
        self._listed_at = float("-inf")
        self._stale = True
        self._listing: asyncio.Future[None] | None = None
        self._first_seen: dict[str, str] = {}
        self._version = 0
        self.unusable_tools: tuple[str, ...] = ()
        """Upstream tools left out of the last listing: their exposed name is not a valid MCP name."""
        self._restarts = 0
        self._restart: asyncio.Task[None] | None = None
        self._refresh: asyncio.Task[None] | None = None
        self._closed = False
        self._http_status = 200

    @property
    def name(self) -> str:
        return self.config.name

    def exposed_name(self, tool: str) -> str:
        """The name agents see for an upstream tool ('<connector>.<tool>' unless `prefix: false`)."""
        return exposed_name(self.config, tool)

    @property
    def catalog_version(self) -> int:
        """Bumped when a listing changes what `drift()` and `tools()` report: a cheap signal
        for a caller that keeps a copy of `tools()` (the broker's catalog snapshot)."""
        return self._version

    def pinned_tools(self) -> Sequence[PinnedTool]:
        """Every pinned definition, quarantined or not."""
        return tuple(self._pinned.values())

    def tools(self) -> Sequence[ToolSpec]:
        """The pinned definitions minus quarantined tools (plus, with `expose_new_tools`, new
        tools as first seen), never a live definition of a pinned tool."""
        drift = self.drift()
        specs = [tool.spec() for tool in self._pinned.values() if tool.name not in drift.quarantined]
        if self.config.expose_new_tools and self._live is not None:
            for name in drift.new:
                definition, pin = self._live[name]
                if self._first_seen.setdefault(name, pin) == pin:
                    specs.append(PinnedTool.from_definition(definition).spec())
        return specs

    def drift(self) -> Drift:
        """Live definitions against the pins, as of the last listing (`checked` False before one)."""
        if self._live is None:
            return Drift()
        return compute_drift(self._pins, {name: pin for name, (_, pin) in self._live.items()})

    async def live_tools(self) -> list[PinnedTool]:
        """List the upstream's tools now (every page), exposable names only, sorted by name."""
        await self._relist()
        assert self._live is not None
        return [PinnedTool.from_definition(self._live[name][0]) for name in sorted(self._live)]

    def secret_refs(self) -> frozenset[str]:
        """None yet: `headers` and `env` are static; secret injection is the broker's to add."""
        return frozenset()

    async def call(
        self, tool: str, arguments: Mapping[str, Any], context: CallContext = NO_CONTEXT
    ) -> ToolOutput:
        if self._closed:
            raise ConnectorError(f"connector '{self.name}' is closed")
        if tool not in self._pinned and not self.config.expose_new_tools:
            raise UnknownTool(f"upstream '{self.name}' has no approved tool '{tool}'")
        if self._stale or time.monotonic() - self._listed_at >= self.config.recheck_seconds:
            await self._relist()
        self._check_pin(tool)
        result = await self._use(lambda client: client.call_tool(tool, dict(arguments)), retry=False)
        self._restarts = 0
        return self._output(result)

    async def aclose(self) -> None:
        self._closed = True
        for task in (self._restart, self._refresh, self._listing):
            if task is not None and not task.done():
                task.cancel()
        session, self._session = self._session, None
        if session is not None:
            await session.stop()

    async def __aenter__(self) -> McpConnector:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def _check_pin(self, tool: str) -> None:
        live = self._live or {}
        where = f"tool '{tool}' of upstream '{self.name}' is quarantined pending review"
        if tool in self._pinned:
            if tool not in live:
                raise ToolQuarantined(f"{where}: the upstream no longer lists it")
            if live[tool][1] != self._pins[tool]:
                raise ToolQuarantined(
                    f"{where}: its definition changed upstream since it was pinned; "
                    "an operator must review and approve the change"
                )
            return
        if tool not in live:
            raise UnknownTool(f"upstream '{self.name}' has no tool '{tool}'")
        if self._first_seen.setdefault(tool, live[tool][1]) != live[tool][1]:
            raise ToolQuarantined(f"{where}: its definition changed upstream since it was first seen")

    def _output(self, result: types.CallToolResult) -> ToolOutput:
        content = [
            block.model_dump(by_alias=True, mode="json", exclude_none=True) for block in result.content
        ]
        structured = result.structured_content
        size = len(json.dumps(content, ensure_ascii=False).encode()) + (
            len(json.dumps(structured, ensure_ascii=False).encode()) if structured is not None else 0
        )
        if size > self.config.max_response_bytes:
            raise UpstreamBadResponse(
                f"upstream '{self.name}' sent more than the {size_text(self.config.max_response_bytes)} "
                "response limit (max_response_bytes)"
            )
        return ToolOutput(content=content, structured=structured, is_error=bool(result.is_error))

    async def _relist(self) -> None:
        """Re-list now, sharing one listing between concurrent callers."""
        if self._listing is None or self._listing.done():
            self._listing = asyncio.ensure_future(self._list_now())
            self._listing.add_done_callback(_retrieve)
        await asyncio.shield(self._listing)

    async def _list_now(self) -> None:
        await self._connected()  # a new session marks the listing stale: connect first
        self._stale = False  # a notification arriving during the listing marks it stale again
        try:
            tools = await self._use(self._list_all, retry=True)
        except BaseException:
            self._stale = True
            raise
        live: dict[str, tuple[Definition, str]] = {}
        unusable: list[str] = []
        for tool in tools:
            if not exposable(self.config, tool.name):
                unusable.append(tool.name)
                continue
            if tool.name in live:
                raise UpstreamBadResponse(f"upstream '{self.name}' lists the tool '{tool.name}' twice")
            definition = definition_of(tool)
            live[tool.name] = (definition, pin_of(definition))
        if self._live is None or _pins(self._live) != _pins(live):
            self._version += 1
        self._live, self.unusable_tools = live, tuple(sorted(unusable))
        self._listed_at = time.monotonic()

    async def _list_all(self, client: Client) -> list[types.Tool]:
        tools: list[types.Tool] = []
        cursor: str | None = None
        for _ in range(MAX_PAGES):
            page = await client.list_tools(cursor=cursor)
            tools.extend(page.tools)
            if not page.next_cursor or page.next_cursor == cursor:
                return tools
            cursor = page.next_cursor
        raise UpstreamBadResponse(f"upstream '{self.name}' paginated tools/list past {MAX_PAGES} pages")

    async def _use(self, operation: Callable[[Client], Awaitable[T]], *, retry: bool) -> T:
        """Run one operation on the session within the timeout. When the session was lost,
        reconnect and run it once more if `retry` (it may be repeated safely) or if the upstream
        provably did not run it (it rejected the session, e.g. after a restart)."""
        for attempt in range(2):
            session = await self._connected()
            try:
                async with asyncio.timeout(self.config.timeout_seconds):
                    return await operation(session.client)
            except ConnectorError:
                raise
            except Exception as exc:
                if not _session_lost(exc, session):
                    raise self._error(exc) from None
                cause = await self._drop(session, exc)
                if attempt > 0 or not (retry or _session_rejected(exc)):
                    raise self._error(cause) from None
        raise AssertionError("unreachable")

    async def _connected(self) -> Session:
        session = self._session
        if session is not None and session.alive:
            return session
        async with self._connecting:
            if self._session is not None and self._session.alive:
                return self._session
            if self._closed:
                raise ConnectorError(f"connector '{self.name}' is closed")
            failure: BaseException | None = None
            for delay in CONNECT_DELAYS:
                await asyncio.sleep(delay)
                session = Session(self._opener, self._tools_changed, self._on_lost)
                try:
                    await session.start(self.config.timeout_seconds)
                except Exception as exc:
                    failure = leaf_error(exc)
                    if not _transient(failure):
                        break  # slow, cannot start, or refused: trying again at once will not help
                    continue
                if self._closed:
                    await session.stop()
                    break
                self._session, self._stale = session, True
                return session
            if failure is None:
                raise ConnectorError(f"connector '{self.name}' is closed")
            raise self._error(failure) from None

    async def _drop(self, session: Session, exc: BaseException) -> BaseException:
        """Forget a lost session; return the best explanation of what happened."""
        session.lost()
        await asyncio.wait({asyncio.ensure_future(session.closed.wait())}, timeout=0.5)
        if self._session is session:
            self._session = None
        return session.error if session.error is not None and _informative(session.error) else exc

    def _on_lost(self, session: Session) -> None:
        if self._session is session:
            self._session = None
        self._stale = True
        if self.config.transport == "stdio" and not self._closed and self._restarts < MAX_RESTARTS:
            self._restarts += 1
            delay = min(0.5 * 2 ** (self._restarts - 1), 30.0)
            log.warning("upstream '%s' exited; restarting it in %.1f s", self.name, delay)
            self._restart = asyncio.get_running_loop().create_task(self._reconnect_and_relist(delay))

    async def _reconnect_and_relist(self, delay: float) -> None:
        """Reconnect (if need be) and re-list after `delay`; failures wait for the next call."""
        await asyncio.sleep(delay)
        with contextlib.suppress(ConnectorError, MCPError, OSError):  # the next call reports it
            await self._relist()

    def _note_status(self, status: int) -> None:
        self._http_status = status

    def _tools_changed(self) -> None:
        """The upstream announced a change: re-list now, so drift() and tools() catch up."""
        self._stale = True
        if not self._closed and (self._refresh is None or self._refresh.done()):
            self._refresh = asyncio.get_running_loop().create_task(self._reconnect_and_relist(0))

    def _error(self, exc: BaseException) -> UpstreamError:
        detail = ""
        if self.config.transport == "http" and self._http_status >= 400:
            detail = f"HTTP status {self._http_status}"
        if self.config.transport == "stdio":
            tail = self._stderr.text(self._secrets)[-500:]
            detail = f"its stderr ends with: {tail}" if tail else ""
        return upstream_error(self.name, exc, self.config.timeout_seconds, detail)

    def _make_opener(self) -> Opener:
        config = self.config
        if config.transport == "http":
            assert config.url is not None
            return http_opener(
                config.url,
                config.headers,
                config.timeout_seconds,
                config.max_response_bytes,
                self._note_status,
            )
        assert config.command is not None
        return stdio_opener(config.command, config.env, config.cwd, self._stderr)


def _session_lost(exc: BaseException, session: Session) -> bool:
    """Whether a failure means the session is gone (not that one request failed)."""
    if session.closed.is_set():
        return True
    return _session_rejected(exc) or (isinstance(exc, MCPError) and exc.code == types.CONNECTION_CLOSED)


def _transient(exc: BaseException) -> bool:
    """A connection failure worth another attempt (refused, reset, closed mid-handshake)."""
    if isinstance(exc, MCPError):
        return exc.code == types.CONNECTION_CLOSED
    return isinstance(exc, httpx2.TransportError | ConnectionError) and not isinstance(
        exc, httpx2.TimeoutException
    )


def _session_rejected(exc: BaseException) -> bool:
    """The upstream refused the request for its session ("Session not found" after a restart)."""
    return (
        isinstance(exc, MCPError)
        and exc.code == types.INVALID_REQUEST
        and "session" in exc.error.message.lower()
    )


def _pins(live: Mapping[str, tuple[Definition, str]]) -> dict[str, str]:
    return {name: pin for name, (_, pin) in live.items()}


def _retrieve(future: asyncio.Future[None]) -> None:
    """Mark a shared listing's failure as seen: every waiter gets it, maybe none is left."""
    if not future.cancelled():
        future.exception()


def _informative(exc: BaseException) -> bool:
    return not isinstance(exc, asyncio.CancelledError)
