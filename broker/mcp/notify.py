"""`list_changed` for 2025 sessions whose view of tools, resources or prompts changed.

A session is watched from its first request (the agent it acts for and its `MCP-Context`
narrowing); after every new snapshot (an admin change, an upstream's `list_changed`, a
policy change; `StateManager.on_change`) its view is computed again and, where it differs,
`notifications/{tools,resources,prompts}/list_changed` goes out on the session's standalone
stream (the GET stream). 2026-07-28 clients have no stream: their lists carry `ttlMs`.
Watched sessions are bounded and forgotten after a day without a request.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from cachetools import TTLCache
from mcp.server.context import ServerRequestContext
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import BaseModel

from broker.catalog import AgentIdentity, Snapshot
from broker.mcp.channel import session_id

log = logging.getLogger(__name__)

View = tuple[str, str, str]
"""Digests of the tools, resources and prompts a session sees."""


class ListTarget(Protocol):
    """Where a session's change notifications go (its standalone stream): an SDK `ServerSession`
    or `Connection`."""

    async def send_tool_list_changed(self) -> None: ...

    async def send_resource_list_changed(self) -> None: ...

    async def send_prompt_list_changed(self) -> None: ...


@dataclass
class _Watched:
    session: ListTarget
    agent: AgentIdentity
    only: frozenset[str] | None
    view: View


def view_of(snapshot: Snapshot, agent: AgentIdentity, only: frozenset[str] | None) -> View:
    return (
        _digest(snapshot.visible_tools(agent, only)),
        _digest(snapshot.visible_resources(agent, only)),
        _digest(snapshot.visible_prompts(agent, only)),
    )


def _digest(items: Sequence[BaseModel]) -> str:
    hashed = hashlib.sha256()
    for item in items:
        hashed.update(item.model_dump_json(by_alias=True, exclude_none=True).encode())
    return hashed.hexdigest()


class ListWatchers:
    def __init__(self, maxsize: int = 10_000, ttl: float = 86_400) -> None:
        self._sessions: TTLCache[str, _Watched] = TTLCache(maxsize=maxsize, ttl=ttl)
        self._sending: set[asyncio.Task[None]] = set()

    def watch(
        self,
        ctx: ServerRequestContext[Any],
        snapshot: Snapshot,
        agent: AgentIdentity,
        only: frozenset[str] | None,
    ) -> None:
        """Note the session of this request (2025 sessions only; nothing to do on 2026-07-28)."""
        if ctx.protocol_version in MODERN_PROTOCOL_VERSIONS:
            return
        sid = session_id(ctx)
        if sid is not None:
            self.follow(sid, ctx.session, snapshot, agent, only)

    def follow(
        self,
        sid: str,
        target: ListTarget,
        snapshot: Snapshot,
        agent: AgentIdentity,
        only: frozenset[str] | None,
    ) -> None:
        """Watch session `sid`'s view of the catalog, notifying `target` when it changes."""
        known = self._sessions.get(sid)
        if known is not None and known.agent == agent and known.only == only:
            self._sessions[sid] = known  # refreshes its TTL
            return
        self._sessions[sid] = _Watched(target, agent, only, view_of(snapshot, agent, only))

    def forget(self, sid: str, target: ListTarget) -> None:
        """The session's copy on this instance ended (`target` was its channel here)."""
        known = self._sessions.get(sid)
        if known is not None and known.session is target:
            del self._sessions[sid]

    def changed(self, snapshot: Snapshot) -> None:
        """A `StateManager.on_change` listener: compare and notify off the caller's path."""
        if not self._sessions:
            return
        task = asyncio.get_running_loop().create_task(self._notify(snapshot))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _notify(self, snapshot: Snapshot) -> None:
        for sid, watched in list(self._sessions.items()):
            old, new = watched.view, view_of(snapshot, watched.agent, watched.only)
            watched.view = new
            try:
                if new[0] != old[0]:
                    await watched.session.send_tool_list_changed()
                if new[1] != old[1]:
                    await watched.session.send_resource_list_changed()
                if new[2] != old[2]:
                    await watched.session.send_prompt_list_changed()
            except Exception:  # the session is gone: stop watching it
                log.debug("could not notify an MCP session; forgetting it")
                self._sessions.pop(sid, None)
