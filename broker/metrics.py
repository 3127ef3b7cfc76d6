"""Prometheus metrics, on a registry of our own so tests and several apps don't collide."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.tool_calls = Counter(
            "broker_tool_calls",
            "tools/call requests by agent, tool and outcome",
            ["agent", "tool", "outcome"],
            registry=self.registry,
        )
        self.tool_latency = Histogram(
            "broker_tool_call_duration_seconds",
            "Time from receiving a tools/call to its answer, upstream included",
            ["tool", "outcome"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.requests = Counter(
            "broker_requests",
            "Upstream operations (tools/call, resources/read, prompts/get, completion/complete) by agent, "
            "operation, connector and outcome",
            ["agent", "operation", "connector", "outcome"],
            registry=self.registry,
        )
        self.request_latency = Histogram(
            "broker_request_duration_seconds",
            "Time from receiving an upstream operation to its answer, upstream included, by operation",
            ["operation", "outcome"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.audit_written = Counter(
            "broker_audit_records_written", "Audit records stored", registry=self.registry
        )
        self.audit_write_errors = Counter(
            "broker_audit_write_errors",
            "Failed attempts to store a batch of audit records",
            registry=self.registry,
        )
        self.pii_masked = Counter(
            "broker_pii_masked",
            "Entities masked in tool results and upstream errors, by entity type",
            ["entity"],
            registry=self.registry,
        )
        self.pii_mask_seconds = Histogram(
            "broker_pii_mask_duration_seconds",
            "Time MaskPII spends per tool call (token resolution and masking, upstream excluded)",
            buckets=(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1),
            registry=self.registry,
        )
        self.breaker_state = Gauge(
            "broker_circuit_breaker_state",
            "Circuit breaker of each upstream (connector or LLM provider): 0 closed, 1 open, 2 half-open",
            ["upstream"],
            registry=self.registry,
        )
        self.breaker_opened = Counter(
            "broker_circuit_breaker_opened",
            "Times an upstream's circuit breaker opened (here or announced by another instance)",
            ["upstream"],
            registry=self.registry,
        )

        self.upstream_errors = Counter(
            "broker_upstream_errors",
            "Failed upstream calls by upstream (connector or LLM provider) and kind: timeout, unreachable, "
            "http_5xx, http_429, breaker_open (answered at once by an open breaker)",
            ["upstream", "kind"],
            registry=self.registry,
        )
        self.stage_seconds = Histogram(
            "broker_pipeline_stage_duration_seconds",
            "Time in each stage of the tool pipeline, the stages inside it included (upstream: the "
            "connector call itself)",
            ["stage"],
            buckets=(0.00005, 0.0001, 0.00025, 0.0005, 0.001, *LATENCY_BUCKETS[1:]),
            registry=self.registry,
        )

    def upstream_error(self, upstream: str, kind: str) -> None:
        self.upstream_errors.labels(upstream, kind).inc()

    def breaker_changed(self, upstream: str, state: str) -> None:
        self.breaker_state.labels(upstream).set({"closed": 0, "open": 1, "half_open": 2}[state])
        if state == "open":
            self.breaker_opened.labels(upstream).inc()
