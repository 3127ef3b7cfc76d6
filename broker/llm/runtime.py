"""The LLM proxy's parts, built once from the gateway and started and stopped with it."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from broker.gateway import Gateway
from broker.guard.engine import Guard
from broker.llm.accounts import Accounts, BudgetRule, LocalAccounts, Window
from broker.llm.credentials import ChainedSecrets, SecretSource, SettingsSecrets, VaultSecrets
from broker.llm.gateway_tools import gateway_tools
from broker.llm.ledger import LedgerWriter
from broker.llm.metering import Metering
from broker.llm.metrics import LlmMetrics
from broker.llm.proxy import LlmProxy
from broker.llm.reports import spent_since
from broker.llm.sampling import SamplingServer
from broker.llm.semantic.cache import SemanticCache
from broker.llm.state import LlmState
from broker.llm.upstream import RetryPolicy
from broker.pii.keys import pii_salt, token_cipher

log = logging.getLogger("broker.llm.runtime")


@dataclass
class LlmRuntime:
    state: LlmState
    ledger: LedgerWriter
    accounts: Accounts
    metrics: LlmMetrics
    proxy: LlmProxy

    @classmethod
    def from_gateway(cls, gateway: Gateway, secrets: SecretSource | None = None) -> LlmRuntime:
        settings = gateway.settings
        sessions = gateway.sessions
        state = LlmState(
            sessions,
            secrets
            or ChainedSecrets(VaultSecrets(gateway.vault), SettingsSecrets(settings.llm_provider_keys)),
            poll_seconds=settings.state_poll_seconds,
            notices=gateway.bus.notices(),
        )
        metrics = LlmMetrics(gateway.metrics.registry)
        ledger = LedgerWriter(
            sessions,
            batch_size=settings.llm_ledger_batch_size,
            flush_seconds=settings.llm_ledger_flush_seconds,
            queue_limit=settings.llm_ledger_queue_limit,
            errors=metrics.ledger_errors,
        )

        async def load_spent(rule: BudgetRule, window: Window) -> float:
            await ledger.flush()  # what this instance has metered but not yet written counts too

            def read() -> float:
                with sessions() as session:
                    return spent_since(session, rule.config, window.start)

            return await asyncio.to_thread(read)

        accounts: Accounts
        if settings.redis_url:
            from broker.llm.redis_accounts import RedisAccounts

            accounts = RedisAccounts(settings.redis_url, load_spent, fail_open=settings.llm_fail_open)
        else:
            accounts = LocalAccounts(load_spent, fail_open=settings.llm_fail_open)
        metering = Metering(
            accounts,
            ledger,
            metrics,
            fail_open=settings.llm_fail_open,
            default_max_tokens=settings.llm_default_max_tokens,
            traced=gateway.tracer is not None,
        )
        retry = RetryPolicy(
            max_attempts=settings.llm_max_attempts,
            base_seconds=settings.llm_retry_base_seconds,
            max_seconds=settings.llm_retry_max_seconds,
        )
        proxy = LlmProxy(
            tool_snapshot=lambda: gateway.state.snapshot,
            identity=gateway.identity,
            state=state,
            metering=metering,
            retry=retry,
            breakers=gateway.breakers,
            max_request_bytes=settings.llm_max_request_bytes,
            max_inflight_bytes=settings.llm_max_inflight_bytes,
            guard=Guard(gateway.maskers),
            semantic=SemanticCache(sessions, token_cipher(settings, pii_salt(settings))),
            gateway_tools=gateway_tools(
                lambda: gateway.state.snapshot, gateway.pipeline, settings.llm_tool_loop_max_steps
            ),
        )
        gateway.sampling.sampler = SamplingServer(proxy)
        return cls(state=state, ledger=ledger, accounts=accounts, metrics=metrics, proxy=proxy)

    async def update_budget_gauges(self) -> None:
        """What is left of each budget whose window this instance (or Redis) knows, for /metrics."""
        gauge = self.metrics.budget_remaining
        for rule in self.state.snapshot.budgets:
            try:
                live = await self.accounts.spent(rule)
            except Exception as exc:  # a scrape never fails for this: the gauge keeps its last value
                log.debug("budget %s left out of this scrape: %s", rule.config.name, exc)
                live = None
            if live is not None:
                config = rule.config
                gauge.labels(config.name, config.unit).set(max(0.0, config.limit - live[0]))

    async def start(self) -> None:
        await self.state.start()
        self.ledger.start()

    async def stop(self) -> None:
        await self.ledger.close()
        await self.accounts.close()
        await self.state.stop()
