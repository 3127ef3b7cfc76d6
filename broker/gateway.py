"""The gateway's parts, built once from Settings and shared by the MCP and admin faces."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from broker.audit.writer import AuditWriter
from broker.cache import ResultCache
from broker.catalog import Federated
from broker.cluster import Bus, make_bus
from broker.metrics import Metrics
from broker.pii.maskers import Maskers
from broker.pipeline import Next, tool_pipeline
from broker.pipeline.audit import Audit
from broker.pipeline.credentials import InjectCredentials
from broker.pipeline.mask import MaskPII
from broker.secrets import Vault, load_cipher
from broker.settings import Settings
from broker.state import StateManager
from broker.store.db import make_engine, make_sessionmaker
from connectors.base import NO_CONTEXT, CallContext


@dataclass
class Gateway:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    metrics: Metrics
    audit: AuditWriter
    state: StateManager
    vault: Vault
    maskers: Maskers
    bus: Bus = field(default_factory=Bus)
    cache: ResultCache | None = None
    pipeline: Next = field(init=False)

    def __post_init__(self) -> None:
        audit_stage = Audit(
            self.audit, self.metrics, self.settings.audit_hash_key.get_secret_value().encode()
        )
        cache_stage = self.cache.stage if self.cache is not None else None
        masking = MaskPII(self.maskers, self.metrics)
        self.pipeline = tool_pipeline(audit_stage, masking, InjectCredentials(self.vault), cache_stage)

    @classmethod
    def from_settings(cls, settings: Settings) -> Gateway:
        engine = make_engine(settings.database_url)
        sessions = make_sessionmaker(engine)
        metrics = Metrics()
        audit = AuditWriter(
            sessions,
            metrics,
            batch_size=settings.audit_batch_size,
            flush_seconds=settings.audit_flush_seconds,
            queue_limit=settings.audit_queue_limit,
        )
        vault = Vault(
            sessions,
            load_cipher(settings),
            cache_seconds=settings.secret_cache_seconds,
            last_used_seconds=settings.secret_last_used_seconds,
        )

        async def listing_context(connector: Federated) -> CallContext:
            """Background re-listing of upstream tools uses the shared (not per-agent) secrets."""
            refs = connector.secret_refs()
            return CallContext(agent=None, secrets=await vault.resolve(refs)) if refs else NO_CONTEXT

        bus = make_bus(settings.redis_url, settings.redis_channel)
        state = StateManager(
            sessions,
            poll_seconds=settings.state_poll_seconds,
            listing_context=listing_context,
            notices=bus.notices(),
        )
        return cls(
            settings=settings,
            engine=engine,
            sessions=sessions,
            metrics=metrics,
            audit=audit,
            state=state,
            vault=vault,
            maskers=Maskers.from_settings(settings, engine),
            bus=bus,
            cache=ResultCache.from_settings(settings, metrics.registry),
        )

    async def start(self) -> None:
        await self.bus.start()
        await self.state.start()
        self.audit.start()
        self.vault.start()
        self.maskers.start()

    async def stop(self) -> None:
        await self.audit.close()
        await self.vault.close()
        await self.maskers.close()
        if self.cache is not None:
            await self.cache.close()
        await self.state.stop()
        await self.bus.close()
        self.engine.dispose()
