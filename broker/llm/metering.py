"""One model call's account: admitted against budgets and limits before it goes upstream,
then settled, written to the ledger and counted, whatever its outcome."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from opentelemetry import trace

from broker.catalog import AgentIdentity
from broker.errors import BrokerError
from broker.llm.accounts import Accounts, Demand, Hold, Rules
from broker.llm.catalog import Route, Target
from broker.llm.errors import MeteringUnavailable
from broker.llm.ledger import LedgerWriter, UsageEntry
from broker.llm.metrics import LlmMetrics
from broker.llm.usage import Usage

if TYPE_CHECKING:
    from broker.guard.answers import OutputPlan

log = logging.getLogger("broker.llm.metering")


@dataclass(slots=True)
class ModelCall:
    request_id: str
    agent: AgentIdentity
    endpoint: str
    started: float
    """perf_counter() when the request arrived."""
    ts: datetime
    model: str = ""
    stream: bool = False
    route: Route | None = None
    target: Target | None = None
    hold: Hold | None = None
    attempts: int = 0
    usage: Usage | None = None
    status: str = "ok"
    http_status: int = 200
    error: str | None = None
    ttft: float | None = None
    guardrails: list[dict[str, Any]] = field(default_factory=list)
    """Guardrail verdicts (prompt and answer), for the ledger and metrics."""
    output: OutputPlan | None = None
    """What the answer goes through on its way back (set by the guardrails)."""
    cache: str | None = None
    """The semantic cache's part: hit, miss or bypass (None: the route has none)."""
    saved: Usage | None = None
    saved_usd: float = 0.0
    connector: str | None = None
    """Set for a sampling request the gateway serves: the connector and tool that asked."""
    tool: str | None = None

    def failed(self, exc: BrokerError) -> None:
        self.status, self.http_status, self.error = exc.code, exc.status_code, exc.message[:1000]

    def first_byte(self) -> None:
        if self.ttft is None:
            self.ttft = time.perf_counter() - self.started


class Metering:
    def __init__(
        self,
        accounts: Accounts,
        ledger: LedgerWriter,
        metrics: LlmMetrics,
        *,
        fail_open: bool,
        default_max_tokens: int,
        traced: bool = False,
    ) -> None:
        self.traced = traced
        self.accounts = accounts
        self.ledger = ledger
        self.metrics = metrics
        self.fail_open = fail_open
        self.default_max_tokens = default_max_tokens

    def demand(self, route: Route, prompt_tokens: int, max_tokens: int | None) -> Demand:
        """The call's worst case over the route's targets."""
        completion = max_tokens or max(
            (t.max_output_tokens or self.default_max_tokens for t in route.targets),
            default=self.default_max_tokens,
        )
        worst = Usage(prompt=prompt_tokens, completion=completion)
        usd = max((t.price.cost(worst) for t in route.targets if t.price is not None), default=0.0)
        return Demand(tokens=worst.total, usd=usd)

    async def admit(self, call: ModelCall, rules: Rules, demand: Demand) -> None:
        if not self.ledger.healthy and not self.fail_open:
            raise MeteringUnavailable(
                "the usage ledger cannot be written just now, so model calls are paused"
            )
        if rules.empty:
            return
        try:
            call.hold = await self.accounts.admit(rules, demand)
        except BrokerError:
            raise
        except Exception as exc:  # the shared limiter (Redis) is down
            if self.fail_open:
                log.warning("budgets and rate limits not enforced for this call: %s", exc)
                return
            log.error("the shared limiter is unavailable: %s", exc)
            raise MeteringUnavailable(
                "budgets and rate limits cannot be checked just now; try again shortly"
            ) from None

    async def finish(self, call: ModelCall) -> None:
        """Settle the reservation, record the call in the ledger and the metrics."""
        usage = call.usage or Usage()
        price = call.target.price if call.target is not None else None
        cost = price.cost(usage) if price is not None else 0.0
        if call.hold is not None:
            try:
                await self.accounts.settle(call.hold, usage.total, cost)
            except Exception:
                log.exception("could not settle call %s against its budgets", call.request_id)
        elapsed = time.perf_counter() - call.started
        model_label = call.route.name if call.route is not None else "(unknown)"
        self.metrics.observe(
            agent=call.agent.name, model=model_label, status=call.status, prompt=usage.prompt,
            completion=usage.completion, cached=usage.cached, cost=cost, seconds=elapsed, ttft=call.ttft,
        )  # fmt: skip
        if call.cache is not None:
            self.metrics.semantic_cache(model_label, call.cache, call.saved.total if call.saved else 0)
        trace_id = None
        if self.traced:
            trace_id = genai_span_attributes(call, usage)
        if call.target is not None:
            self.metrics.observe_genai(
                operation="embeddings" if call.endpoint == "embeddings" else "chat",
                provider=call.target.provider.kind, model=call.model[:200],
                error=None if call.status == "ok" else call.status, prompt=usage.prompt,
                completion=usage.completion, seconds=elapsed,
            )  # fmt: skip
        for verdict in call.guardrails:
            self.metrics.guardrail(call.agent.name, verdict["rule"], verdict["action"], verdict["where"])
        if call.status == MeteringUnavailable.code:
            return  # the ledger is what is unavailable
        target = call.target
        self.ledger.record(
            UsageEntry(
                ts=call.ts,
                request_id=call.request_id,
                agent=call.agent.name,
                team=call.agent.team,
                end_user=call.agent.end_user,
                endpoint=call.endpoint,
                model=call.model[:200],
                provider=target.provider.name if target is not None else None,
                upstream_model=target.model if target is not None else None,
                stream=call.stream,
                status=call.status,
                http_status=call.http_status,
                prompt_tokens=usage.prompt,
                completion_tokens=usage.completion,
                cached_tokens=usage.cached,
                estimated=usage.estimated,
                cost_usd=cost,
                latency_ms=round(elapsed * 1000, 3),
                ttft_ms=round(call.ttft * 1000, 3) if call.ttft is not None else None,
                attempts=call.attempts,
                error=call.error,
                trace_id=trace_id,
                guardrails=json.dumps(call.guardrails, separators=(",", ":")) if call.guardrails else None,
                cache=call.cache,
                saved_tokens=call.saved.total if call.saved is not None else None,
                saved_usd=round(call.saved_usd, 8) if call.saved is not None else None,
                connector=call.connector,
                tool=call.tool,
            )
        )


def genai_span_attributes(call: ModelCall, usage: Usage) -> str | None:
    """Put the GenAI semantic conventions' attributes on the request's span; its trace id."""
    span = trace.get_current_span()
    if not span.is_recording():
        return None
    span.set_attributes(
        {
            "gen_ai.operation.name": "embeddings" if call.endpoint == "embeddings" else "chat",
            "gen_ai.request.model": call.model[:200],
            "gen_ai.usage.input_tokens": usage.prompt,
            "gen_ai.usage.output_tokens": usage.completion,
            "broker.agent": call.agent.name,
        }
    )
    if call.target is not None:
        span.set_attributes(
            {"gen_ai.provider.name": call.target.provider.kind, "gen_ai.response.model": call.target.model}
        )
    if call.status != "ok":
        span.set_attribute("error.type", call.status)
    return format(span.get_span_context().trace_id, "032x")
