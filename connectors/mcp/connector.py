"""The running `kind: mcp` connector: pinned tools out, checked calls in.

Agents see only the pinned definitions (`live.py`). Before a call the connector re-lists the
upstream's tools when it has reason to (a `list_changed` notification, a new connection, a
listing older than `recheck_seconds`) and refuses the call when the tool's live definition no
longer hashes to its pin: a changed or removed tool is quarantined until an operator
approves the difference.

Calls run on one long-lived session per credential set (`upstream.py`); secret values are
blanked out of every error, stderr excerpt and result.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

import mcp_types as types
from mcp.client.client import Client
from mcp.shared.exceptions import MCPError

from connectors.base import (
    NO_CONTEXT,
    CallContext,
    CompletionOutput,
    CompletionRef,
    InputRequired,
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
    UpstreamUnreachable,
)
from connectors.mcp import quiet, relay
from connectors.mcp.config import McpConnectorConfig, exposable, exposed_name
from connectors.mcp.links import Link
from connectors.mcp.listing import list_tools_page
from connectors.mcp.live import LiveTools, ToolQuarantined
from connectors.mcp.offerings import (
    HeldOffering,
    Listing,
    arguments_of,
    completion_result,
    list_offerings,
    prompt_result,
    read_result,
    reference,
    refused,
)
from connectors.mcp.pins import Drift, PinnedTool, listed_definitions
from connectors.mcp.results import TextResult, tool_output
from connectors.mcp.tasks import run_step, step_output
from connectors.mcp.upstream import Upstream

__all__ = ["McpConnector", "ToolQuarantined"]

T = TypeVar("T")
log = logging.getLogger(__name__)

MAX_PAGES = 100
"""Pages of tools/list followed; a paginator that never ends cannot hang a call."""


class McpConnector:
    """Calls the pinned tools of one upstream MCP server over long-lived sessions, one per
    credential set."""

    def __init__(self, config: McpConnectorConfig) -> None:
        if config.tools is None:
            raise ConnectorConfigError(
                f"connector '{config.name}' has no pinned tools yet: register it first"
            )
        self.config = config
        self._tools = LiveTools(config)
        self._upstream = Upstream(config, self._relist, self._went_stale, self._resource_updated)
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
        return self._tools.version

    @property
    def unusable_tools(self) -> tuple[str, ...]:
        """Upstream tools left out of the last listing: their exposed name is not a valid MCP name."""
        return self._tools.unusable

    def pinned_tools(self) -> Sequence[PinnedTool]:
        """Every pinned definition, quarantined or not."""
        return tuple(self._tools.pinned.values())

    def tools(self) -> Sequence[ToolSpec]:
        """The pinned definitions minus quarantined tools (plus, with `expose_new_tools`, new
        tools as first seen), never a live definition of a pinned tool."""
        return self._tools.tools()

    def drift(self) -> Drift:
        """Live definitions against the pins, as of the last listing (`checked` False before one)."""
        return self._tools.drift()

    async def live_tools(self, context: CallContext | None = None) -> list[PinnedTool]:
        """List the upstream's tools now (every page), exposable names only, sorted by name.

        `context` brings the credentials to list with; without one, those of the latest call
        (a ConnectorError before any call, when the config references secrets). A listing
        already under way may have started before a change the caller wants to see (a review
        right after a rug pull): it is awaited, then the upstream is listed again."""
        async with self._upstream.link_for(context) as link:
            if link.listing is not None and not link.listing.done():
                with contextlib.suppress(Exception):  # it failed: the listing below tries again
                    await asyncio.shield(link.listing)
            await self._relist(link, context)
        return self._tools.listed()

    def secret_refs(self) -> frozenset[str]:
        """The secrets `auth` and `secret_env` name (per-agent ones included)."""
        return self._upstream.credentials.secret_refs()

    async def call(
        self, tool: str, arguments: Mapping[str, Any], context: CallContext = NO_CONTEXT
    ) -> ToolOutput:
        if tool not in self._tools.pinned and not self.config.expose_new_tools:
            raise UnknownTool(f"upstream '{self.name}' has no approved tool '{tool}'")
        async with self._upstream.link_for(context) as link:
            if self._tools.due() or not link.listed:
                await self._relist(link, context)
            self._tools.check(tool, self.name)
            if context.task is not None:  # a step of an MCP task: connectors/mcp/tasks.py
                use = lambda ask, again: self._upstream.use(link, ask, retry=again, context=context)  # noqa: E731
                raw = await run_step(use, tool, arguments, context.task, self.config.timeout_seconds)
                return step_output(raw, context.task, self.config.max_response_bytes, link.scrub, self.name)

            def call(client: Client) -> Awaitable[types.CallToolResult | TextResult | InputRequired]:
                plain = quiet.call_tool(client, tool, dict(arguments), context.channel)
                return plain if plain is not None else relay.call_tool(client, tool, dict(arguments), context)

            with relay.relaying(context.channel):
                result = await self._upstream.use(link, call, retry=False, context=context)
            link.restarts = 0
            return tool_output(result, self.config.max_response_bytes, link.scrub, self.name)

    def resources(self) -> Sequence[ResourceSpec]:
        return self._tools.reviewed.exposed.resources

    def resource_templates(self) -> Sequence[ResourceTemplateSpec]:
        return self._tools.reviewed.exposed.templates

    def prompts(self) -> Sequence[PromptSpec]:
        return self._tools.reviewed.exposed.prompts

    def offered(self) -> Listing:
        """Every resource, template and prompt of the last listing, held ones included."""
        return self._tools.offerings

    def held_offerings(self) -> Sequence[HeldOffering]:
        """What the last listing holds back until an operator reviews it."""
        return self._tools.reviewed.held

    async def read_resource(self, uri: str, context: CallContext = NO_CONTEXT) -> ResourceOutput:
        async with self._upstream.link_for(context) as link:
            what = f"upstream '{self.name}' could not read {uri}"
            result = await self._ask(link, lambda c: c.read_resource(uri), what, "resource", context)
            return read_result(result, self.config.max_response_bytes, link.scrub, self.name)

    async def watch_resource(self, uri: str, subscribe: bool, context: CallContext = NO_CONTEXT) -> None:
        """Subscribe on the caller's session; an upstream that offers no subscriptions is not asked."""
        async with self._upstream.link_for(context) as link:
            session = await self._upstream.connected(link)
            offered = session.client.server_capabilities.resources
            if offered is None or not offered.subscribe:
                return
            what = f"upstream '{self.name}' refused a subscription to {uri}"
            await self._ask(link, lambda c: self._watch(link, uri, subscribe), what, "resource", context)

    async def _watch(self, link: Link, uri: str, subscribe: bool) -> None:
        session = await self._upstream.connected(link)
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
        async with self._upstream.link_for(context) as link:
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
        async with self._upstream.link_for(context) as link:
            session = await self._upstream.connected(link)
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

        result = await self._upstream.use(link, asking, retry=True, context=context)
        link.restarts = 0
        return result

    async def aclose(self) -> None:
        await self._upstream.aclose()

    async def __aenter__(self) -> McpConnector:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def _went_stale(self) -> None:
        """A session was lost or the upstream announced a change: list before the next call."""
        self._tools.stale = True

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
        await self._upstream.connected(link)  # a new session needs a listing: connect first
        self._tools.stale, link.listed = False, True  # a notification during the listing: stale again
        try:
            tools = await self._upstream.use(link, self._list_all, retry=True, context=context)
        except BaseException:
            self._tools.stale, link.listed = True, False
            raise
        # a big upstream's definitions are seconds of dumping and hashing: not on the loop
        listed = await asyncio.to_thread(listed_definitions, tools, lambda name: exposable(self.config, name))
        if listed.twice is not None:
            raise UpstreamBadResponse(f"upstream '{self.name}' lists the tool '{listed.twice}' twice")
        self._tools.update(listed, await self._list_offerings(link, context))

    async def _list_offerings(self, link: Link, context: CallContext | None) -> Listing:
        """Resources, templates and prompts; on failure the last listing stays (tools do not wait)."""
        try:
            return await self._upstream.use(
                link, lambda c: list_offerings(c, self.name), retry=True, context=context
            )
        except (ConnectorError, MCPError) as exc:
            message = exc.message if isinstance(exc, ConnectorError) else exc.error.message
            log.warning("could not list the resources and prompts of upstream '%s': %s", self.name, message)
            return self._tools.offerings

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


def _retrieve(future: asyncio.Future[None]) -> None:
    """Mark a shared listing's failure as seen: every waiter gets it, maybe none is left."""
    if not future.cancelled():
        future.exception()
