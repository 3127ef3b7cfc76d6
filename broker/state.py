"""Keeps the current catalog snapshot in step with the database and the upstreams.

An admin change in this process refreshes at once; other instances hear of it through the
cluster bus (Redis pub/sub, `broker.cluster`) and read the revision from the database, or
notice it at the next cheap revision poll. Connectors whose configuration did not change are
reused across snapshots, so their connection pools survive a reload.

Federated connectors (upstream MCP servers) change their tools at run time: a drifted tool
is quarantined when the upstream announces `list_changed` or a call re-lists. A watcher
reads each one's `catalog_version` every `watch_seconds` (no database, no network) and
rebuilds the snapshot from the connectors already built when one moved. Each federated
connector is listed once when built (which also opens its session, so `list_changed` is
heard) and again every `relist_seconds`, for upstreams that never announce changes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from broker import heap
from broker.catalog import (
    AgentIdentity,
    CatalogTool,
    Federated,
    KeyEntry,
    QuarantinedTool,
    Snapshot,
    connector_tools,
)
from broker.cluster import Notices
from broker.offerings import Offerings, connector_offerings, merge_offerings
from broker.services import policies as policy_service
from broker.services.revision import current as current_revision
from broker.services.revision import follow
from broker.store.models import Agent, ApiKey, ConnectorRecord
from broker.tasks import cancel_and_wait
from connectors.base import CallContext, Connector
from connectors.registry import build_off_loop
from policies import PolicySet

log = logging.getLogger("broker.state")

Configs = list[tuple[str, str, dict[str, Any] | None]]
"""Stored connectors: name, fingerprint, and the config (None: unchanged since it was built)."""
Rows = tuple[int, int, PolicySet, dict[str, KeyEntry], Configs, dict[str, AgentIdentity]]
"""What one database read gives: revision, policy revision and set, keys, connector configs, agents."""


class StateManager:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        poll_seconds: float,
        watch_seconds: float = 0.25,
        relist_seconds: float = 60.0,
        listing_context: Callable[[Federated], Awaitable[CallContext]] | None = None,
        notices: Notices | None = None,
    ) -> None:
        self._sessions = sessions
        self._notices = notices
        self._listeners: list[Callable[[Snapshot], None]] = []
        self._listing_context = listing_context
        self._poll_seconds = poll_seconds
        self._watch_seconds = watch_seconds
        self._relist_seconds = relist_seconds
        self._lock = asyncio.Lock()
        self._built: dict[str, tuple[str, Connector]] = {}
        self._snapshot: Snapshot | None = None
        self._rows: Rows | None = None
        self._versions: dict[str, int] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._listings: dict[str, asyncio.Task[None]] = {}
        self._offered: dict[str, tuple[Connector, int, list[CatalogTool], list[QuarantinedTool]]] = {}
        """Catalog entries per connector, reused by the next snapshot while the connector (and, for a
        federated one, its catalog_version) is the same: 10,000 tools cost ~1 s to build again."""

    @property
    def snapshot(self) -> Snapshot:
        if self._snapshot is None:
            raise RuntimeError("the state manager has not been started")
        return self._snapshot

    @property
    def loaded(self) -> bool:
        return self._snapshot is not None

    def on_change(self, listener: Callable[[Snapshot], None]) -> Callable[[], None]:
        """Call `listener(snapshot)` on the event loop after every new snapshot (an admin change
        here or on another instance, an upstream's tools moving); returns the unsubscribe.
        A listener must not block: it may schedule work (e.g. send MCP list_changed)."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def _publish(self, snapshot: Snapshot) -> Snapshot:
        self._snapshot = snapshot
        for listener in list(self._listeners):
            try:
                listener(snapshot)
            except Exception:
                log.exception("a snapshot listener failed")
        return snapshot

    async def start(self) -> None:
        await self.refresh()
        self._tasks = [
            asyncio.create_task(self._poll(), name="broker-state-poll"),
            asyncio.create_task(self._watch(), name="broker-state-watch"),
        ]

    async def stop(self) -> None:
        await cancel_and_wait(*self._tasks, *self._listings.values())
        self._tasks = []
        for _, connector in self._built.values():
            await connector.aclose()
        self._built.clear()

    async def refresh(self) -> Snapshot:
        async with self._lock:
            known = {name: fingerprint for name, (fingerprint, _) in self._built.items()}
            with heap.building():  # a big connector's objects must not trigger full collections
                self._rows = await asyncio.to_thread(self._read, known)
                snapshot = await self._assemble(*self._rows)
            return self._publish(snapshot)

    async def _watch(self) -> None:
        """Rebuild the snapshot, without the database, when a federated connector's tools moved."""
        next_listing = asyncio.get_running_loop().time() + self._relist_seconds
        while True:
            await asyncio.sleep(self._watch_seconds)
            try:
                if self._rows is not None and self._catalog_versions() != self._versions:
                    async with self._lock:
                        self._publish(await self._assemble(*self._rows))
                if asyncio.get_running_loop().time() >= next_listing:
                    next_listing += self._relist_seconds
                    for name, (_, connector) in self._built.items():
                        if isinstance(connector, Federated):
                            self._list_soon(name, connector)
            except Exception:  # keep serving the last good snapshot
                log.exception("could not rebuild the catalog after an upstream change")

    async def _catalog_entries(
        self, name: str, connector: Connector, version: int
    ) -> tuple[list[CatalogTool], list[QuarantinedTool]]:
        known = self._offered.get(name)
        if known is not None and known[0] is connector and known[1] == version:
            return known[2], known[3]
        if isinstance(connector, Federated):  # its tools move on the loop: read them there
            offered, held = connector_tools(name, connector)
        else:  # a thousand tools' definitions and validators are ~100 ms of Python: not on the loop
            offered, held = await asyncio.to_thread(connector_tools, name, connector)
        self._offered[name] = (connector, version, offered, held)
        return offered, held

    def _catalog_versions(self) -> dict[str, int]:
        return {
            name: connector.catalog_version
            for name, (_, connector) in self._built.items()
            if isinstance(connector, Federated)
        }

    def _list_soon(self, name: str, connector: Federated) -> None:
        """List an upstream's tools in the background; a failure waits for the next call."""
        running = self._listings.get(name)
        if running is not None and not running.done():
            return

        async def listing() -> None:
            try:
                context = await self._listing_context(connector) if self._listing_context else None
                await connector.live_tools(context)
            except Exception as exc:
                log.warning("could not list the tools of upstream '%s': %s", name, exc)

        self._listings[name] = asyncio.create_task(listing(), name=f"broker-list-{name}")

    async def _close(self, name: str, connector: Connector) -> None:
        listing = self._listings.pop(name, None)
        if listing is not None:
            listing.cancel()
        await connector.aclose()

    async def _poll(self) -> None:
        await follow(
            self._sessions,
            self._poll_seconds,
            self._known_revision,
            self.refresh,
            log,
            "the catalog",
            self._notices,
        )

    def _known_revision(self) -> int | None:
        return self._snapshot.revision if self._snapshot is not None else None

    def _read(self, known: Mapping[str, str]) -> Rows:
        with self._sessions() as session:
            revision = current_revision(session)
            policy_revision, policy_list = policy_service.current_policies(session)
            agents = {
                name: AgentIdentity(agent_id, name, team)
                for agent_id, name, team in session.execute(
                    select(Agent.id, Agent.name, Agent.team).where(Agent.enabled.is_(True))
                )
            }
            keys: dict[str, KeyEntry] = {}
            rows = session.execute(
                select(ApiKey.key_hash, ApiKey.prefix, ApiKey.expires_at, Agent.id, Agent.name, Agent.team)
                .join(Agent, ApiKey.agent_id == Agent.id)
                .where(Agent.enabled.is_(True), ApiKey.revoked_at.is_(None))
            )
            for key_hash, prefix, expires_at, agent_id, name, team in rows:
                if expires_at is not None and expires_at.tzinfo is None:
                    expires_at = expires_at.replace(tzinfo=UTC)
                keys[key_hash] = KeyEntry(
                    agents.get(name) or AgentIdentity(agent_id, name, team), prefix, expires_at
                )
            configs = self._configs(session, known)
        policy_set = PolicySet(policy_list, version=policy_revision)
        return revision, policy_revision, policy_set, keys, configs, agents

    @staticmethod
    def _configs(session: Session, known: Mapping[str, str]) -> Configs:
        """(name, fingerprint, config) of every stored connector; the config is read only when
        its fingerprint (kind and last change) differs from the connector already built: a
        big imported config is megabytes of JSON, too much to parse and compare on every refresh."""
        heads = session.execute(
            select(
                ConnectorRecord.name,
                ConnectorRecord.kind,
                ConnectorRecord.created_at,
                ConnectorRecord.updated_at,
            ).order_by(ConnectorRecord.name)
        ).all()
        fingerprints = {name: f"{kind} {created} {updated}" for name, kind, created, updated in heads}
        wanted = [name for name, fingerprint in fingerprints.items() if known.get(name) != fingerprint]
        loaded: dict[str, dict[str, Any]] = {}
        if wanted:
            rows = session.execute(
                select(ConnectorRecord.name, ConnectorRecord.config).where(ConnectorRecord.name.in_(wanted))
            )
            loaded = {name: config for name, config in rows}
        return [(name, fingerprint, loaded.get(name)) for name, fingerprint in fingerprints.items()]

    async def _assemble(
        self,
        revision: int,
        policy_revision: int,
        policy_set: PolicySet,
        keys: Mapping[str, KeyEntry],
        configs: Configs,
        agents: Mapping[str, AgentIdentity],
    ) -> Snapshot:
        connectors: dict[str, Connector] = {}
        tools: dict[str, CatalogTool] = {}
        quarantined: dict[str, QuarantinedTool] = {}
        versions: dict[str, int] = {}
        per_connector: list[Offerings] = []
        for name, fingerprint, config in configs:
            previous = self._built.get(name)
            if previous is not None and previous[0] == fingerprint:
                connector = previous[1]
            elif config is None:  # built when read, and closed since: wait for the next refresh
                continue
            else:
                try:  # off the loop: validating a stored config of a thousand tools is real work
                    connector = await build_off_loop(config)
                except Exception:
                    log.exception("connector '%s' could not be built; its tools are left out", name)
                    continue
                if previous is not None:
                    await self._close(name, previous[1])
                self._built[name] = (fingerprint, connector)
                if isinstance(connector, Federated):
                    self._list_soon(name, connector)
            connectors[name] = connector
            if isinstance(connector, Federated):  # read before tools(): a later change rebuilds again
                versions[name] = connector.catalog_version
            offered, held = await self._catalog_entries(name, connector, versions.get(name, 0))
            for tool in offered:
                kept = tools.setdefault(tool.name, tool)
                if kept is not tool:
                    log.warning(
                        "tool '%s' of connector '%s' is left out: connector '%s' has a tool of that name",
                        tool.name,
                        name,
                        kept.connector,
                    )
            quarantined.update((item.name, item) for item in held)
            try:
                offered_too = connector_offerings(name, connector)
            except Exception:
                log.exception("the resources and prompts of connector '%s' are left out", name)
            else:
                per_connector.append(offered_too)
        for gone in set(self._built) - set(connectors):
            await self._close(gone, self._built.pop(gone)[1])
        for gone in set(self._offered) - set(connectors):
            del self._offered[gone]
        self._versions = versions
        offerings = merge_offerings(per_connector, connectors)
        return Snapshot(
            revision=revision,
            policy_revision=policy_revision,
            policy_set=policy_set,
            keys=keys,
            tools=tools,
            connectors=connectors,
            quarantined={name: item for name, item in quarantined.items() if name not in tools},
            agents=agents,
            resources={item.uri: item for item in offerings.resources},
            templates=tuple(offerings.templates),
            prompts={item.name: item for item in offerings.prompts},
        )


def key_is_live(entry: KeyEntry, at: datetime | None = None) -> bool:
    return entry.expires_at is None or entry.expires_at > (at or datetime.now(UTC))
