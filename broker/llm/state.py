"""Keeps the LLM snapshot in step with the database, as broker/state.py does for tools.

A change made through this instance's admin API refreshes at once; other instances hear of
it through the cluster bus (`broker.cluster`) or notice the shared state revision within a
poll. Providers whose configuration and key did not change keep their client (and its warm
connections); replaced clients close after a grace period, so calls still running on them
finish.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session, sessionmaker

from broker.cluster import Notices
from broker.llm import services
from broker.llm.catalog import LlmSnapshot, build_snapshot
from broker.llm.config import (
    KINDS,
    BudgetConfig,
    PriceConfig,
    ProviderConfig,
    RateLimitConfig,
    RouteConfig,
)
from broker.llm.credentials import SecretSource
from broker.llm.providers import Provider, build_provider
from broker.services.revision import current as current_revision
from broker.services.revision import follow
from broker.tasks import cancel_and_wait

log = logging.getLogger("broker.llm.state")


class LlmState:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        secrets: SecretSource,
        *,
        poll_seconds: float,
        close_grace: float = 600,
        notices: Notices | None = None,
    ) -> None:
        self._notices = notices
        self._sessions = sessions
        self._secrets = secrets
        self._poll_seconds = poll_seconds
        self._close_grace = close_grace
        self._lock = asyncio.Lock()
        self._built: dict[str, tuple[str, Provider]] = {}
        self._snapshot: LlmSnapshot | None = None
        self._poller: asyncio.Task[None] | None = None
        self._closing: set[asyncio.Task[None]] = set()

    @property
    def snapshot(self) -> LlmSnapshot:
        if self._snapshot is None:
            raise RuntimeError("the LLM state has not been started")
        return self._snapshot

    @property
    def loaded(self) -> bool:
        return self._snapshot is not None

    async def start(self) -> None:
        await self.refresh()
        self._poller = asyncio.create_task(self._poll(), name="broker-llm-state-poll")

    async def stop(self) -> None:
        if self._poller is not None:
            await cancel_and_wait(self._poller)
        await cancel_and_wait(*self._closing)
        for _, provider in self._built.values():
            await provider.aclose()
        self._built.clear()

    async def refresh(self) -> LlmSnapshot:
        async with self._lock:
            revision, stored = await asyncio.to_thread(self._read)
            self._snapshot = await self._assemble(revision, stored)
            return self._snapshot

    async def _poll(self) -> None:
        await follow(
            self._sessions,
            self._poll_seconds,
            self._known_revision,
            self.refresh,
            log,
            "the LLM configuration",
            self._notices,
        )

    def _known_revision(self) -> int | None:
        return self._snapshot.revision if self._snapshot is not None else None

    def _read(self) -> tuple[int, dict[str, list[dict[str, Any]]]]:
        with self._sessions() as session:
            return current_revision(session), services.load_all(session)

    async def _assemble(self, revision: int, stored: dict[str, list[dict[str, Any]]]) -> LlmSnapshot:
        valid = {kind: _validated(kind, stored.get(kind, [])) for kind in KINDS}
        providers: dict[str, Provider] = {}
        for config in valid["providers"]:
            assert isinstance(config, ProviderConfig)
            providers[config.name] = await self._provider(config, revision)
        for gone in set(self._built) - set(providers):
            self._close_later(self._built.pop(gone)[1])
        return build_snapshot(
            revision,
            providers,
            [c for c in valid["models"] if isinstance(c, RouteConfig)],
            [c for c in valid["prices"] if isinstance(c, PriceConfig)],
            [c for c in valid["budgets"] if isinstance(c, BudgetConfig)],
            [c for c in valid["rate_limits"] if isinstance(c, RateLimitConfig)],
        )

    async def _provider(self, config: ProviderConfig, revision: int) -> Provider:
        secret = config.api_key_secret
        key = await self._secrets.resolve(secret, revision=revision) if secret else None
        fingerprint = hashlib.sha256(
            json.dumps([config.model_dump(mode="json"), key], sort_keys=True).encode()
        ).hexdigest()
        previous = self._built.get(config.name)
        if previous is not None and previous[0] == fingerprint:
            return previous[1]
        provider = build_provider(config, key)
        if previous is not None:
            self._close_later(previous[1])
        self._built[config.name] = (fingerprint, provider)
        return provider

    def _close_later(self, provider: Provider) -> None:
        async def close() -> None:
            try:
                await asyncio.sleep(self._close_grace)
            finally:
                await provider.aclose()

        task = asyncio.create_task(close(), name=f"broker-llm-close-{provider.name}")
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)


def _validated(kind: str, configs: list[dict[str, Any]]) -> list[BaseModel]:
    model = KINDS[kind]
    found: list[BaseModel] = []
    for config in configs:
        try:
            found.append(model.model_validate(config))
        except ValidationError:
            log.exception(
                "stored LLM %s %r is not valid and is left out", kind, config.get("name", config.get("model"))
            )
    return found
