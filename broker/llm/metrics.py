"""Prometheus metrics of the LLM proxy, on the gateway's registry.

Label children are cached per (agent, model), so counting a call is a few dict lookups.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from broker.metrics import LATENCY_BUCKETS, Children


class LlmMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "broker_llm_requests", "LLM proxy calls by agent, model and status", ["agent", "model", "status"],
            registry=registry,
        )  # fmt: skip
        self.tokens = Counter(
            "broker_llm_tokens",
            "Tokens metered by agent, model and kind (prompt, completion, cached)",
            ["agent", "model", "kind"],
            registry=registry,
        )
        self.cost = Counter(
            "broker_llm_cost_usd",
            "Cost in USD by agent and model (from the price table)",
            ["agent", "model"],
            registry=registry,
        )
        self.latency = Histogram(
            "broker_llm_request_duration_seconds", "Time to the last byte of an LLM proxy answer", ["model"],
            buckets=LATENCY_BUCKETS, registry=registry,
        )  # fmt: skip
        self.ttft = Histogram(
            "broker_llm_time_to_first_token_seconds", "Time to the first streamed event", ["model"],
            buckets=LATENCY_BUCKETS, registry=registry,
        )  # fmt: skip
        self.ledger_errors = Counter(
            "broker_llm_ledger_write_errors", "Failed attempts to store a batch of usage entries",
            registry=registry,
        )  # fmt: skip
        # OpenTelemetry GenAI semantic conventions (gen_ai.client.*), in Prometheus form.
        self.genai_tokens = Histogram(
            "gen_ai_client_token_usage",
            "Tokens per model call (GenAI semconv gen_ai.client.token.usage), by token type input/output",
            ["gen_ai_operation_name", "gen_ai_provider_name", "gen_ai_request_model", "gen_ai_token_type"],
            buckets=(1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304),
            registry=registry,
        )
        self.genai_duration = Histogram(
            "gen_ai_client_operation_duration_seconds",
            "Model call duration (GenAI semconv gen_ai.client.operation.duration), error_type on failures",
            ["gen_ai_operation_name", "gen_ai_provider_name", "gen_ai_request_model", "error_type"],
            buckets=(0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92),
            registry=registry,
        )
        self.budget_remaining = Gauge(
            "broker_llm_budget_remaining",
            "What is left of each budget in its current window (unit: tokens or usd), read at scrape time",
            ["budget", "unit"],
            registry=registry,
        )
        self.guardrails = Counter(
            "broker_llm_guardrail_verdicts",
            "Guardrails that fired on model calls, by agent, rule, action (flag, mask, block) and where",
            ["agent", "rule", "action", "where"],
            registry=registry,
        )
        self.semantic_lookups = Counter(
            "broker_llm_semantic_cache_lookups",
            "Semantic cache lookups by model and result (hit, miss, bypass)",
            ["model", "result"],
            registry=registry,
        )
        self.semantic_saved = Counter(
            "broker_llm_semantic_cache_saved_tokens",
            "Tokens not spent because the semantic cache answered, by model",
            ["model"],
            registry=registry,
        )
        self._child = Children()

    def observe(
        self,
        *,
        agent: str,
        model: str,
        status: str,
        prompt: int,
        completion: int,
        cached: int,
        cost: float,
        seconds: float,
        ttft: float | None,
    ) -> None:
        self._child(self.requests, agent, model, status).inc()
        if prompt:
            self._child(self.tokens, agent, model, "prompt").inc(prompt)
        if completion:
            self._child(self.tokens, agent, model, "completion").inc(completion)
        if cached:
            self._child(self.tokens, agent, model, "cached").inc(cached)
        if cost:
            self._child(self.cost, agent, model).inc(cost)
        self._child(self.latency, model).observe(seconds)
        if ttft is not None:
            self._child(self.ttft, model).observe(ttft)

    def observe_genai(
        self, *, operation: str, provider: str, model: str, error: str | None, prompt: int, completion: int,
        seconds: float,
    ) -> None:  # fmt: skip
        self._child(self.genai_duration, operation, provider, model, error or "").observe(seconds)
        if prompt:
            self._child(self.genai_tokens, operation, provider, model, "input").observe(prompt)
        if completion:
            self._child(self.genai_tokens, operation, provider, model, "output").observe(completion)

    def guardrail(self, agent: str, rule: str, action: str, where: str) -> None:
        self._child(self.guardrails, agent, rule, action, where).inc()

    def semantic_cache(self, model: str, result: str, saved_tokens: int) -> None:
        self._child(self.semantic_lookups, model, result).inc()
        if saved_tokens:
            self._child(self.semantic_saved, model).inc(saved_tokens)
