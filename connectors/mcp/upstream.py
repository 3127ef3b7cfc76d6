"""The sessions of one `kind: mcp` connector: which one a call uses, and running work on it.

Credentials come with each call (`CallContext`, resolved by the broker from its secret
store): one long-lived session per distinct credential set (`links.py`), opened on first
use, reopened on failure, replaced when a secret is rotated; a stdio server is restarted
when it exits (bounded, with backoff). Secret values are blanked out of every error and
stderr excerpt.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import TypeVar

from mcp.client.client import Client
from mcp.shared.exceptions import MCPError

from connectors.auth import per_caller
from connectors.base import CallContext
from connectors.errors import ConnectorError, UpstreamError
from connectors.mcp import relay
from connectors.mcp.config import McpConnectorConfig
from connectors.mcp.credentials import NO_GRANT, McpCredentials
from connectors.mcp.failures import http_refused, session_lost, session_rejected, upstream_error
from connectors.mcp.links import Link, LinkClosed, Links
from connectors.mcp.session import LiveHeaders, Opener, Session, http_opener, stdio_opener
from connectors.scrub import scrubber

T = TypeVar("T")
log = logging.getLogger(__name__)

MAX_RESTARTS = 5
"""Restarts of an exited stdio server in a row (no successful call between them)."""


class Upstream:
    """The links (sessions) of one connector and the policy for using them.

    `relist(link)` lists the upstream over a link (after a stdio restart, or when it announced
    a change); `on_stale()` says a listing is due (a session was lost); `on_updated(uri)` hears
    a subscribed resource's updates."""

    def __init__(
        self,
        config: McpConnectorConfig,
        relist: Callable[[Link], Awaitable[None]],
        on_stale: Callable[[], None],
        on_updated: Callable[[str], None],
    ) -> None:
        self.config = config
        self.credentials = McpCredentials(config)
        self._secrets = scrubber(*config.secret_values())
        self._relist = relist
        self._on_stale = on_stale
        self._on_updated = on_updated
        self._links = (
            Links(self._make_opener, config.max_user_sessions, config.user_session_idle_seconds)
            if per_caller(config.auth)
            else Links(self._make_opener)
        )
        self._stopping: set[asyncio.Task[None]] = set()
        self._refresh: asyncio.Task[None] | None = None
        self.closed = False

    @property
    def name(self) -> str:
        return self.config.name

    def link_for(self, context: CallContext | None) -> InUse:
        """`async with upstream.link_for(context) as link:` the link for the call's credentials,
        in use until the block ends; retired links that nothing uses any more are stopped in
        the background."""
        return InUse(self, context)

    async def _acquire(self, context: CallContext | None) -> Link:
        if self.closed:
            raise ConnectorError(f"connector '{self.name}' is closed")
        if context is not None:
            grant = await self.credentials.grant(context)
        elif (latest := self._links.latest()) is not None:
            grant = latest.grant
        elif self.credentials.secret_refs():
            raise ConnectorError(
                f"upstream '{self.name}' is reached with credentials from the gateway's secret store, "
                "which come with a call; its tools are listed again with the next call"
            )
        else:
            grant = NO_GRANT
        if (
            context is not None
            and self.config.transport == "http"
            and relay.uses_2025_session(context.channel)
            and context.task is None  # every step of a task on one upstream session: tasks.py
        ):
            grant = dataclasses.replace(grant, key=(*grant.key, relay.LEGACY_SLOT))
        link, idle = self._links.acquire(grant)
        if idle:
            self._stop_soon(idle)
        return link

    def _release(self, link: Link) -> None:
        if self._links.release(link):
            self._stop_soon([link])

    def _stop_soon(self, links: Iterable[Link]) -> None:
        for link in links:
            task = asyncio.get_running_loop().create_task(link.stop(), name=f"mcp-stop-{self.name}")
            self._stopping.add(task)
            task.add_done_callback(self._stopping.discard)

    async def use(
        self,
        link: Link,
        operation: Callable[[Client], Awaitable[T]],
        *,
        retry: bool,
        context: CallContext | None = None,
    ) -> T:
        """Run one operation on the link's session within the timeout. When the session was
        lost, reconnect and run it once more if `retry` (it may be repeated safely) or if the
        upstream provably did not run it (it rejected the session, e.g. after a restart). When
        the upstream refused it with HTTP 401, try once more with a fresh OAuth token."""
        reconnected = renewed = False
        while True:
            try:
                session = await self.connected(link)
            except UpstreamError:
                if renewed or not await self._renew(link, context):
                    raise
                renewed = True
                continue
            try:
                async with asyncio.timeout(self.config.timeout_seconds):
                    return await operation(session.client)
            except ConnectorError:
                raise
            except Exception as exc:
                if not renewed and http_refused(exc) and await self._renew(link, context):
                    renewed = True
                    continue
                if not session_lost(exc, session.closed.is_set()):
                    raise self.error(link, exc) from None
                cause = await link.drop(session, exc)
                if reconnected or not (retry or session_rejected(exc)):
                    raise self.error(link, cause) from None
                reconnected = True

    async def _renew(self, link: Link, context: CallContext | None) -> bool:
        """After the upstream answered 401: give the link a fresh OAuth token, if it uses one."""
        if context is None or link.http_status != 401:
            return False
        fresh = await self.credentials.renewed(link.grant, context)
        if fresh is None:
            return False
        link.grant = fresh
        return True

    async def connected(self, link: Link) -> Session:
        """The link's live session, connected now if need be."""

        def new_session() -> Session:
            return Session(
                link.opener,
                lambda: self._tools_changed(link),
                lambda s: self._on_lost(link, s),
                self._on_updated,
            )

        try:
            return await link.connected(self.config.timeout_seconds, lambda: self.closed, new_session)
        except LinkClosed:
            raise ConnectorError(f"connector '{self.name}' is closed") from None
        except Exception as exc:
            raise self.error(link, exc) from None

    def _on_lost(self, link: Link, session: Session) -> None:
        if link.session is session:
            link.session = None
        self._on_stale()
        if self.config.transport != "stdio" or self.closed or link.retired:
            return
        if link.restarts < MAX_RESTARTS:
            link.restarts += 1
            delay = min(0.5 * 2 ** (link.restarts - 1), 30.0)
            log.warning("upstream '%s' exited; restarting it in %.1f s", self.name, delay)
            link.restart = asyncio.get_running_loop().create_task(self._reconnect_and_relist(link, delay))

    async def _reconnect_and_relist(self, link: Link, delay: float) -> None:
        """Reconnect (if need be) and re-list after `delay`; failures wait for the next call."""
        await asyncio.sleep(delay)
        with contextlib.suppress(ConnectorError, MCPError, OSError):  # the next call reports it
            await self._relist(link)

    def _tools_changed(self, link: Link) -> None:
        """The upstream announced a change: re-list now, so drift() and tools() catch up."""
        self._on_stale()
        if not self.closed and (self._refresh is None or self._refresh.done()):
            self._refresh = asyncio.get_running_loop().create_task(self._reconnect_and_relist(link, 0))

    def error(self, link: Link, exc: BaseException) -> ConnectorError:
        """The error to report for a failure on the link, every secret value blanked out."""
        secrets = link.scrub | self._secrets
        detail = ""
        if self.config.transport == "http" and link.http_status >= 400:
            detail = f"HTTP status {link.http_status}"
        if self.config.transport == "stdio":
            tail = link.stderr.text(secrets)[-500:]
            detail = f"its stderr ends with: {tail}" if tail else ""
        return secrets.error(upstream_error(self.name, exc, self.config.timeout_seconds, detail))

    def _make_opener(self, link: Link) -> Opener:
        config = self.config
        if config.transport == "http":
            assert config.url is not None
            return http_opener(
                config.url,
                config.headers,
                config.timeout_seconds,
                config.max_response_bytes,
                link.note_status,
                auth=LiveHeaders(link.headers) if config.auth is not None else None,
                allow_private_network=config.allow_private_network,
                legacy=relay.LEGACY_SLOT in link.grant.key,
            )
        assert config.command is not None
        return stdio_opener(config.command, {**config.env, **link.grant.env}, config.cwd, link.stderr)

    async def aclose(self) -> None:
        """Stop every session, and what runs for them."""
        self.closed = True
        refresh = self._refresh
        if refresh is not None and not refresh.done():
            refresh.cancel()
        links = self._links.drain()
        await asyncio.gather(*(link.stop() for link in links), *self._stopping, return_exceptions=True)
        if refresh is not None:  # it may be stopping a session of its own: let it finish
            await asyncio.wait({refresh})
        await self.credentials.aclose()


class InUse:
    """The link a block uses (`Upstream.link_for`); a class rather than a generator-based
    context manager: it runs on every call, and costs a third as much."""

    __slots__ = ("_context", "_link", "_upstream")

    def __init__(self, upstream: Upstream, context: CallContext | None) -> None:
        self._upstream = upstream
        self._context = context

    async def __aenter__(self) -> Link:
        self._link = await self._upstream._acquire(self._context)
        return self._link

    async def __aexit__(self, *exc_info: object) -> None:
        self._upstream._release(self._link)
