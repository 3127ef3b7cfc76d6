"""The gateway's parts, built once from Settings and shared by the MCP and admin faces."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from importlib.metadata import version

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import Tracer
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from broker import heap
from broker.audit.writer import AuditWriter
from broker.cache import ResultCache
from broker.catalog import Federated
from broker.cluster import Bus, make_bus
from broker.connections import UserGrants
from broker.errors import Conflict
from broker.guard import injection
from broker.identity import Authenticator, CallerMap, OAuthVerifier, Principal
from broker.identity.resource import metadata_url
from broker.identity.signing import GatewaySigner
from broker.metrics import Metrics
from broker.pii.maskers import Maskers
from broker.pipeline import Next, request_pipeline
from broker.pipeline.audit import Audit
from broker.pipeline.credentials import InjectCredentials
from broker.pipeline.mask import MaskPII
from broker.pipeline.resilience import Resilience
from broker.pipeline.sampling import ServeSampling
from broker.resilience import Backoff, Breakers
from broker.secrets.keys import load_cipher
from broker.secrets.vault import Vault
from broker.services import agents as agent_service
from broker.settings import Settings
from broker.state import StateManager
from broker.store.db import make_engine, make_sessionmaker
from broker.telemetry import make_tracer
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
    oauth: OAuthVerifier | None = None
    """Verifies OAuth access tokens (None: no issuer configured, agent keys only)."""
    signer: GatewaySigner | None = None
    """Signs the gateway's assertions to upstreams (`auth: {type: gateway_jwt}`)."""
    identity: Authenticator = field(init=False)
    tracer: Tracer | None = None
    """OpenTelemetry tracer when BROKER_OTLP_ENDPOINT is set; None: no spans at all."""
    tracer_provider: TracerProvider | None = None
    breakers: Breakers = field(init=False)
    """Circuit breakers of connectors and LLM providers (shared through the bus with Redis)."""
    pipeline: Next = field(init=False)
    grants: UserGrants = field(init=False)
    """Each end user's own OAuth grants at upstreams (`auth: {type: user_oauth}`)."""
    sampling: ServeSampling = field(init=False)
    """Answers upstreams' sampling requests with the LLM proxy (its sampler set by `LlmRuntime`)."""

    def __post_init__(self) -> None:
        settings = self.settings
        self.grants = UserGrants(self.sessions, self.vault, settings.resolved_public_url)
        self.breakers = Breakers(
            threshold=settings.breaker_failures,
            open_seconds=settings.breaker_open_seconds,
            bus=self.bus,
            probe_claim=self.bus.claim if self.bus.shared else None,
            observer=self.metrics.breaker_changed,
            errors=self.metrics.upstream_error,
        )
        resilience = Resilience(
            self.breakers,
            Backoff(
                attempts=settings.tool_retry_attempts,
                base_seconds=settings.tool_retry_base_seconds,
                max_seconds=settings.tool_retry_max_seconds,
            ),
        )
        audit_stage = Audit(
            self.audit,
            self.metrics,
            self.settings.audit_hash_key.get_secret_value().encode(),
            traced=self.tracer is not None,
        )
        cache_stage = self.cache.stage if self.cache is not None else None
        masking = MaskPII(self.maskers, self.metrics)
        self.sampling = ServeSampling()
        self.pipeline = request_pipeline(
            audit_stage,
            masking,
            InjectCredentials(self.vault, self.signer, self.grants),
            resilience,
            cache_stage,
            self.sampling,
            self.metrics.stage_seconds,
            self.tracer,
        )
        callers = CallerMap(
            lambda: self.state.snapshot,
            agent_claim=settings.oauth_agent_claim,
            user_claim=settings.oauth_user_claim,
            team_claim=settings.oauth_team_claim,
            provision=self._provision if settings.oauth_provision_agents else None,
        )
        self.identity = Authenticator(lambda: self.state.snapshot, self.oauth, callers, settings.oauth_scopes)
        self.identity.metadata = metadata_url(settings.resolved_public_url)

    async def _provision(self, name: str, principal: Principal) -> None:
        """Register an unknown OAuth client as an agent with no team: no policy grants it anything
        until an operator writes one (default deny)."""

        def create() -> None:
            # Conflict: another request or instance created it first (the transaction rolls back).
            with contextlib.suppress(Conflict), self.sessions.begin() as session:
                agent_service.create_agent(
                    session,
                    name,
                    description=f"provisioned on first use from OAuth client at {principal.issuer}",
                )

        await asyncio.to_thread(create)
        await self.state.refresh()

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
        tracing = make_tracer(settings.otlp_endpoint, "tool-broker", version("tool-broker"))
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
            tracer=tracing[0] if tracing else None,
            tracer_provider=tracing[1] if tracing else None,
            cache=ResultCache.from_settings(settings, metrics.registry),
            oauth=OAuthVerifier(settings) if settings.oauth_issuers else None,
            signer=GatewaySigner(settings.resolved_public_url, settings.gateway_signing_key_file),
        )

    async def start(self) -> None:
        await self.bus.start()
        await self.state.start()
        self.audit.start()
        self.vault.start()
        self.maskers.start()
        await asyncio.to_thread(injection.prepare)
        heap.settle()

    async def stop(self) -> None:
        await self.audit.close()
        await self.vault.close()
        await self.maskers.close()
        if self.cache is not None:
            await self.cache.close()
        await self.state.stop()
        await self.bus.close()
        if self.tracer_provider is not None:  # flush the spans still queued
            await asyncio.to_thread(self.tracer_provider.shutdown)
        if self.oauth is not None:
            await self.oauth.aclose()
        self.engine.dispose()
