"""The running `kind: mcp` connector: pinned tools out, checked calls in.

Agents see only the pinned definitions. Before a call the connector re-lists the upstream's
tools when it has reason to (a `list_changed` notification, a new connection, a listing
older than `recheck_seconds`) and refuses the call when the tool's live definition no
longer hashes to its pin: a changed or removed tool is quarantined until an operator
approves the difference.

Credentials come with each call (`CallContext`, resolved by the broker from its secret
store): one long-lived session per distinct credential set (`_mcp_links`), opened on first
use, reopened on failure, replaced when a secret is rotated; a stdio server is restarted
when it exits (bounded, with backoff). Secret values are blanked out of every error, stderr
excerpt and result.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

import mcp_types as types
from mcp.client.client import Client
from mcp.shared.exceptions import MCPError

from connectors.auth import per_caller
from connectors.base import (
    NO_CONTEXT,
    CallContext,
    CompletionOutput,
    CompletionRef,
    PromptOutput,
    PromptSpec,
    ResourceOutput,
    ResourceSpec,
    ResourceTemplateSpec,
    ToolOutput,
    ToolSpec,
)
from connectors.errors import (
    ConnectorConfigError,
    ConnectorError,
    UnknownTool,
    UpstreamBadResponse,
    UpstreamError,
    UpstreamUnreachable,
)
from connectors.mcp import relay
from connectors.mcp.config import McpConnectorConfig, exposable, exposed_name
from connectors.mcp.credentials import NO_GRANT, McpCredentials
from connectors.mcp.failures import http_refused, session_lost, session_rejected, upstream_error
from connectors.mcp.links import Link, LinkClosed, Links
from connectors.mcp.listing import list_tools_page
from connectors.mcp.offerings import (
    EMPTY,
    HeldOffering,
    Listing,
    Reviewed,
    arguments_of,
    completion_result,
    list_offerings,
    prompt_result,
    read_result,
    reference,
    refused,
    review,
)
from connectors.mcp.pins import Definition, Drift, PinnedTool, compute_drift, listed_definitions
from connectors.mcp.results import tool_output
from connectors.mcp.session import LiveHeaders, Opener, Session, http_opener, stdio_opener
from connectors.mcp.tasks import run_step, step_output
from connectors.scrub import scrubber

T = TypeVar("T")
log = logging.getLogger(__name__)

MAX_RESTARTS = 5
"""Restarts of an exited stdio server in a row (no successful call between them)."""
MAX_PAGES = 100
"""Pages of tools/list followed; a paginator that never ends cannot hang a call."""


class ToolQuarantined(ConnectorError):
    """The tool's upstream definition no longer matches its pin; calls wait for an operator."""


class McpConnector:
    """Calls the pinned tools of one upstream MCP server over long-lived sessions, one per
    credential set."""

    def __init__(self, config: McpConnectorConfig) -> None:
        if config.tools is None:
            raise ConnectorConfigError(
                f"connector '{config.name}' has no pinned tools yet: register it first"
            )
        self.config = config
        self._pinned = {tool.name: tool for tool in config.tools}
        self._pins = dict(config.pins)
        self._secrets = scrubber(*config.secret_values())
        self._credentials = McpCredentials(config)
        self._links = (
            Links(self._make_opener, config.max_user_sessions, config.user_session_idle_seconds)
            if per_caller(config.auth)
            else Links(self._make_opener)
        )
        self._stopping: set[asyncio.Task[None]] = set()
        self._live: dict[str, tuple[Definition, str]] | None = None
        self._execution: dict[str, dict[str, Any]] = {}
        """Each live tool's `execution` (task support): listed as the upstream says, not pinned."""
        self._listed_at = float("-inf")
        self._stale = True
        """An upstream announced a change, or a session was lost: list before the next call."""
        self._first_seen: dict[str, str] = {}
        self._version = 0
        self.unusable_tools: tuple[str, ...] = ()
        """Upstream tools left out of the last listing: their exposed name is not a valid MCP name."""
        self._refresh: asyncio.Task[None] | None = None
        self._closed = False
        self._offerings: Listing = EMPTY
        self._reviewed: Reviewed = Reviewed(EMPTY)
        """`_offerings` as agents may see them, and what is held for review (offerings.review)."""
        """Resources, templates and prompts as of the last listing (connectors/mcp/offerings.py)."""
        self._updated: list[Callable[[str], None]] = []

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
        if self._live is None:  # not listed yet: task support as recorded at registration
            return specs
        return [dataclasses.replace(spec, execution=self._execution.get(spec.name)) for spec in specs]

    def drift(self) -> Drift:
        """Live definitions against the pins, as of the last listing (`checked` False before one)."""
        if self._live is None:
            return Drift()
        return compute_drift(self._pins, {name: pin for name, (_, pin) in self._live.items()})

    async def live_tools(self, context: CallContext | None = None) -> list[PinnedTool]:
        """List the upstream's tools now (every page), exposable names only, sorted by name.

        `context` brings the credentials to list with; without one, those of the latest call
        (a ConnectorError before any call, when the config references secrets). A listing
        already under way may have started before a change the caller wants to see (a review
        right after a rug pull): it is awaited, then the upstream is listed again."""
        async with self._link_for(context) as link:
            if link.listing is not None and not link.listing.done():
                with contextlib.suppress(Exception):  # it failed: the listing below tries again
                    await asyncio.shield(link.listing)
            await self._relist(link, context)
        assert self._live is not None
        return [
            PinnedTool.from_definition(self._live[name][0]).model_copy(
                update={"execution": self._execution.get(name)}
            )
            for name in sorted(self._live)
        ]

    def secret_refs(self) -> frozenset[str]:
        """The secrets `auth` and `secret_env` name (per-agent ones included)."""
        return self._credentials.secret_refs()

    async def call(
        self, tool: str, arguments: Mapping[str, Any], context: CallContext = NO_CONTEXT
    ) -> ToolOutput:
        if tool not in self._pinned and not self.config.expose_new_tools:
            raise UnknownTool(f"upstream '{self.name}' has no approved tool '{tool}'")
        async with self._link_for(context) as link:
            expired = time.monotonic() - self._listed_at >= self.config.recheck_seconds
            if self._stale or expired or not link.listed:
                await self._relist(link, context)
            self._check_pin(tool)
            if context.task is not None:  # a step of an MCP task: connectors/mcp/tasks.py
                use = lambda ask, again: self._use(link, ask, retry=again, context=context)  # noqa: E731
                raw = await run_step(use, tool, arguments, context.task, self.config.timeout_seconds)
                return step_output(raw, context.task, self.config.max_response_bytes, link.scrub, self.name)
            call = lambda client: relay.call_tool(client, tool, dict(arguments), context)  # noqa: E731
            with relay.relaying(context.channel):
                result = await self._use(link, call, retry=False, context=context)
            link.restarts = 0
            return tool_output(result, self.config.max_response_bytes, link.scrub, self.name)

    def resources(self) -> Sequence[ResourceSpec]:
        return self._reviewed.exposed.resources

    def resource_templates(self) -> Sequence[ResourceTemplateSpec]:
        return self._reviewed.exposed.templates

    def prompts(self) -> Sequence[PromptSpec]:
        return self._reviewed.exposed.prompts

    def offered(self) -> Listing:
        """Every resource, template and prompt of the last listing, held ones included."""
        return self._offerings

    def held_offerings(self) -> Sequence[HeldOffering]:
        """What the last listing holds back until an operator reviews it."""
        return self._reviewed.held

    async def read_resource(self, uri: str, context: CallContext = NO_CONTEXT) -> ResourceOutput:
        async with self._link_for(context) as link:
            what = f"upstream '{self.name}' could not read {uri}"
            result = await self._ask(link, lambda c: c.read_resource(uri), what, "resource", context)
            return read_result(result, self.config.max_response_bytes, link.scrub, self.name)

    async def watch_resource(self, uri: str, subscribe: bool, context: CallContext = NO_CONTEXT) -> None:
        """Subscribe on the caller's session; an upstream that offers no subscriptions is not asked."""
        async with self._link_for(context) as link:
            session = await self._connected(link)
            offered = session.client.server_capabilities.resources
            if offered is None or not offered.subscribe:
                return
            what = f"upstream '{self.name}' refused a subscription to {uri}"
            await self._ask(link, lambda c: self._watch(link, uri, subscribe), what, "resource", context)

    async def _watch(self, link: Link, uri: str, subscribe: bool) -> None:
        session = await self._connected(link)
        await session.watch_resource(uri, subscribe)

    def on_resource_updated(self, listener: Callable[[str], None]) -> None:
        if listener not in self._updated:
            self._updated.append(listener)

    def _resource_updated(self, uri: str) -> None:
        for listener in list(self._updated):
            try:
                listener(uri)
            except Exception:
                log.exception("a listener of upstream '%s' resource updates failed", self.name)

    async def get_prompt(
        self, name: str, arguments: Mapping[str, str], context: CallContext = NO_CONTEXT
    ) -> PromptOutput:
        async with self._link_for(context) as link:
            what = f"upstream '{self.name}' refused prompt '{name}'"
            values = arguments_of(arguments)
            result = await self._ask(link, lambda c: c.get_prompt(name, values), what, "prompt", context)
            return prompt_result(result, self.config.max_response_bytes, link.scrub, self.name)

    async def complete(
        self,
        ref: CompletionRef,
        argument: str,
        value: str,
        known: Mapping[str, str],
        context: CallContext = NO_CONTEXT,
    ) -> CompletionOutput:
        async with self._link_for(context) as link:
            session = await self._connected(link)
            if session.client.server_capabilities.completions is None:
                return CompletionOutput(values=[])
            what = f"upstream '{self.name}' could not complete '{argument}'"
            target, pair, chosen = reference(ref), {"name": argument, "value": value}, arguments_of(known)
            result = await self._ask(
                link, lambda c: c.complete(target, pair, chosen or None), what, "completion", context
            )
            return completion_result(result, link.scrub)

    async def _ask(
        self,
        link: Link,
        operation: Callable[[Client], Awaitable[T]],
        what: str,
        kind: str,
        context: CallContext,
    ) -> T:
        """A read-only request (it may be repeated after a lost session); an upstream's refusal
        becomes the connector error that says whose mistake it was."""

        async def asking(client: Client) -> T:
            try:
                return await operation(client)
            except MCPError as exc:
                error = refused(exc, what, kind, link.scrub)
                if error is None:
                    raise
                raise error from None

        result = await self._use(link, asking, retry=True, context=context)
        link.restarts = 0
        return result

    async def aclose(self) -> None:
        self._closed = True
        refresh = self._refresh
        if refresh is not None and not refresh.done():
            refresh.cancel()
        links = self._links.drain()
        await asyncio.gather(*(link.stop() for link in links), *self._stopping, return_exceptions=True)
        if refresh is not None:  # it may be stopping a session of its own: let it finish
            await asyncio.wait({refresh})
        await self._credentials.aclose()

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

    @contextlib.asynccontextmanager
    async def _link_for(self, context: CallContext | None) -> AsyncIterator[Link]:
        """The link for the call's credentials, in use until the block ends; retired links
        that nothing uses any more are stopped in the background."""
        if self._closed:
            raise ConnectorError(f"connector '{self.name}' is closed")
        if context is not None:
            grant = await self._credentials.grant(context)
        elif (latest := self._links.latest()) is not None:
            grant = latest.grant
        elif self.secret_refs():
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
        self._stop_soon(idle)
        try:
            yield link
        finally:
            if self._links.release(link):
                self._stop_soon([link])

    def _stop_soon(self, links: Iterable[Link]) -> None:
        for link in links:
            task = asyncio.get_running_loop().create_task(link.stop(), name=f"mcp-stop-{self.name}")
            self._stopping.add(task)
            task.add_done_callback(self._stopping.discard)

    async def _relist(self, link: Link, context: CallContext | None = None) -> None:
        """Re-list now over the link, sharing one listing between its concurrent callers."""
        if link.listing is None or link.listing.done():
            link.listing = asyncio.ensure_future(self._list_now(link, context))
            link.listing.add_done_callback(_retrieve)
        try:
            await asyncio.shield(link.listing)
        except asyncio.CancelledError:
            caller = asyncio.current_task()
            if caller is not None and caller.cancelling():
                raise
            # the shared listing was stopped under us (the connector or its link closed)
            raise UpstreamUnreachable(f"upstream '{self.name}' was closed while connecting") from None

    async def _list_now(self, link: Link, context: CallContext | None) -> None:
        await self._connected(link)  # a new session needs a listing: connect first
        self._stale, link.listed = False, True  # a notification during the listing: stale again
        try:
            tools = await self._use(link, self._list_all, retry=True, context=context)
        except BaseException:
            self._stale, link.listed = True, False
            raise
        # a big upstream's definitions are seconds of dumping and hashing: not on the loop
        listed = await asyncio.to_thread(listed_definitions, tools, lambda name: exposable(self.config, name))
        if listed.twice is not None:
            raise UpstreamBadResponse(f"upstream '{self.name}' lists the tool '{listed.twice}' twice")
        live, execution, unusable = listed.live, listed.execution, listed.unusable
        offerings = await self._list_offerings(link, context)
        changed = self._live is None or _pins(self._live) != _pins(live) or execution != self._execution
        if changed or offerings != self._offerings:
            self._version += 1
        self._execution = execution
        self._live, self.unusable_tools = live, tuple(sorted(unusable))
        self._offerings = offerings
        self._reviewed = review(offerings, self.config.offering_pins, self.config.expose_new_tools)
        self._listed_at = time.monotonic()

    async def _list_offerings(self, link: Link, context: CallContext | None) -> Listing:
        """Resources, templates and prompts; on failure the last listing stays (tools do not wait)."""
        try:
            return await self._use(link, lambda c: list_offerings(c, self.name), retry=True, context=context)
        except (ConnectorError, MCPError) as exc:
            message = exc.message if isinstance(exc, ConnectorError) else exc.error.message
            log.warning("could not list the resources and prompts of upstream '%s': %s", self.name, message)
            return self._offerings

    async def _list_all(self, client: Client) -> list[types.Tool]:
        tools: list[types.Tool] = []
        cursor: str | None = None
        for _ in range(MAX_PAGES):
            page = await list_tools_page(client, cursor)  # a big page: the loop stays free
            tools.extend(page.tools)
            if not page.next_cursor or page.next_cursor == cursor:
                return tools
            cursor = page.next_cursor
        raise UpstreamBadResponse(f"upstream '{self.name}' paginated tools/list past {MAX_PAGES} pages")

    async def _use(
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
                session = await self._connected(link)
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
                    raise self._error(link, exc) from None
                cause = await link.drop(session, exc)
                if reconnected or not (retry or session_rejected(exc)):
                    raise self._error(link, cause) from None
                reconnected = True

    async def _renew(self, link: Link, context: CallContext | None) -> bool:
        """After the upstream answered 401: give the link a fresh OAuth token, if it uses one."""
        if context is None or link.http_status != 401:
            return False
        fresh = await self._credentials.renewed(link.grant, context)
        if fresh is None:
            return False
        link.grant = fresh
        return True

    async def _connected(self, link: Link) -> Session:
        def new_session() -> Session:
            return Session(
                link.opener,
                lambda: self._tools_changed(link),
                lambda s: self._on_lost(link, s),
                self._resource_updated,
            )

        try:
            return await link.connected(self.config.timeout_seconds, lambda: self._closed, new_session)
        except LinkClosed:
            raise ConnectorError(f"connector '{self.name}' is closed") from None
        except Exception as exc:
            raise self._error(link, exc) from None

    def _on_lost(self, link: Link, session: Session) -> None:
        if link.session is session:
            link.session = None
        self._stale = True
        if self.config.transport != "stdio" or self._closed or link.retired:
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
        self._stale = True
        if not self._closed and (self._refresh is None or self._refresh.done()):
            self._refresh = asyncio.get_running_loop().create_task(self._reconnect_and_relist(link, 0))

    def _error(self, link: Link, exc: BaseException) -> ConnectorError:
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


def _pins(live: Mapping[str, tuple[Definition, str]]) -> dict[str, str]:
    return {name: pin for name, (_, pin) in live.items()}


def _retrieve(future: asyncio.Future[None]) -> None:
    """Mark a shared listing's failure as seen: every waiter gets it, maybe none is left."""
    if not future.cancelled():
        future.exception()
