"""Keeps the current catalog snapshot in step with the database.

An admin change in this process refreshes at once; changes made by other instances are
picked up by a cheap revision poll. Connectors whose configuration did not change are
reused across snapshots, so their connection pools survive a reload.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from broker.catalog import AgentIdentity, CatalogTool, KeyEntry, Snapshot, catalog_tool
from broker.services import policies as policy_service
from broker.services.revision import current as current_revision
from broker.store.models import Agent, ApiKey, ConnectorRecord
from connectors.base import Connector
from connectors.registry import ConnectorConfigAdapter, build
from policies import PolicySet

log = logging.getLogger("broker.state")


class StateManager:
    def __init__(self, sessions: sessionmaker[Session], *, poll_seconds: float) -> None:
        self._sessions = sessions
        self._poll_seconds = poll_seconds
        self._lock = asyncio.Lock()
        self._built: dict[str, tuple[str, Connector]] = {}
        self._snapshot: Snapshot | None = None
        self._poller: asyncio.Task[None] | None = None

    @property
    def snapshot(self) -> Snapshot:
        if self._snapshot is None:
            raise RuntimeError("the state manager has not been started")
        return self._snapshot

    async def start(self) -> None:
        await self.refresh()
        self._poller = asyncio.create_task(self._poll(), name="broker-state-poll")

    async def stop(self) -> None:
        if self._poller is not None:
            self._poller.cancel()
            await asyncio.gather(self._poller, return_exceptions=True)
        for _, connector in self._built.values():
            await connector.aclose()
        self._built.clear()

    async def refresh(self) -> Snapshot:
        async with self._lock:
            rows = await asyncio.to_thread(self._read)
            self._snapshot = await self._assemble(*rows)
            return self._snapshot

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self._poll_seconds)
            try:
                revision = await asyncio.to_thread(self._read_revision)
                if self._snapshot is None or revision != self._snapshot.revision:
                    await self.refresh()
            except Exception:  # keep serving the last good snapshot
                log.exception("could not refresh the catalog from the database")

    def _read_revision(self) -> int:
        with self._sessions() as session:
            return current_revision(session)

    def _read(self) -> tuple[int, int, PolicySet, dict[str, KeyEntry], list[tuple[str, dict[str, Any]]]]:
        with self._sessions() as session:
            revision = current_revision(session)
            policy_revision, policy_list = policy_service.current_policies(session)
            keys: dict[str, KeyEntry] = {}
            rows = session.execute(
                select(ApiKey.key_hash, ApiKey.prefix, ApiKey.expires_at, Agent.id, Agent.name, Agent.team)
                .join(Agent, ApiKey.agent_id == Agent.id)
                .where(Agent.enabled.is_(True), ApiKey.revoked_at.is_(None))
            )
            for key_hash, prefix, expires_at, agent_id, name, team in rows:
                if expires_at is not None and expires_at.tzinfo is None:
                    expires_at = expires_at.replace(tzinfo=UTC)
                keys[key_hash] = KeyEntry(AgentIdentity(agent_id, name, team), prefix, expires_at)
            configs = [
                (r.name, r.config)
                for r in session.scalars(select(ConnectorRecord).order_by(ConnectorRecord.name))
            ]
        return revision, policy_revision, PolicySet(policy_list, version=policy_revision), keys, configs

    async def _assemble(
        self,
        revision: int,
        policy_revision: int,
        policy_set: PolicySet,
        keys: Mapping[str, KeyEntry],
        configs: list[tuple[str, dict[str, Any]]],
    ) -> Snapshot:
        connectors: dict[str, Connector] = {}
        tools: dict[str, CatalogTool] = {}
        for name, config in configs:
            fingerprint = json.dumps(config, sort_keys=True)
            previous = self._built.get(name)
            if previous is not None and previous[0] == fingerprint:
                connector = previous[1]
            else:
                try:
                    connector = build(ConnectorConfigAdapter.validate_python(config))
                except Exception:
                    log.exception("connector '%s' could not be built; its tools are left out", name)
                    continue
                if previous is not None:
                    await previous[1].aclose()
                self._built[name] = (fingerprint, connector)
            connectors[name] = connector
            for spec in connector.tools():
                tool = catalog_tool(name, spec)
                tools[tool.name] = tool
        for gone in set(self._built) - set(connectors):
            await self._built.pop(gone)[1].aclose()
        return Snapshot(
            revision=revision,
            policy_revision=policy_revision,
            policy_set=policy_set,
            keys=keys,
            tools=tools,
            connectors=connectors,
        )


def key_is_live(entry: KeyEntry, at: datetime | None = None) -> bool:
    return entry.expires_at is None or entry.expires_at > (at or datetime.now(UTC))
