"""Prometheus metrics, on a registry of our own so tests and several apps don't collide."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator, Sequence
from typing import TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import HistogramMetricFamily
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.registry import Collector

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

M = TypeVar("M", bound=MetricWrapperBase)


class Children:
    """Children of labelled metrics, looked up once per label set: `labels()` validates its
    values and takes a lock on every call, a visible share of a cache hit's own work. Bounded
    (label values such as agent names come from the callers): emptied whole at `limit` sets."""

    __slots__ = ("_children", "_limit")

    def __init__(self, limit: int = 4096) -> None:
        self._children: dict[tuple[object, ...], MetricWrapperBase] = {}
        self._limit = limit

    def __call__(self, metric: M, *labels: str) -> M:
        key = (metric, *labels)
        child = self._children.get(key)
        if child is None:
            if len(self._children) >= self._limit:
                self._children.clear()
            child = self._children[key] = metric.labels(*labels)
        return child  # type: ignore[return-value]  # labels() returns the metric's own type


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
        self.mcp_fast = Counter(
            "broker_mcp_fast_path_requests",
            "MCP requests the fast path answered (broker/mcp/fastpath.py) by method; the SDK serves the rest",
            ["method"],
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
        self.stage_seconds = StageTimes(
            "broker_pipeline_stage_duration_seconds",
            "Time in each stage of the tool pipeline, the stages inside it included (upstream: the "
            "connector call itself)",
            (0.00005, 0.0001, 0.00025, 0.0005, 0.001, *LATENCY_BUCKETS[1:]),
        )
        self.registry.register(self.stage_seconds)

    def upstream_error(self, upstream: str, kind: str) -> None:
        self.upstream_errors.labels(upstream, kind).inc()

    def breaker_changed(self, upstream: str, state: str) -> None:
        self.breaker_state.labels(upstream).set({"closed": 0, "open": 1, "half_open": 2}[state])
        if state == "open":
            self.breaker_opened.labels(upstream).inc()


class StageClock:
    """One stage's histogram: plain counters, no lock (observed only on the event loop)."""

    __slots__ = ("counts", "total")

    def __init__(self, size: int) -> None:
        self.counts = [0] * size
        self.total = 0.0


class StageTimes(Collector):
    """A histogram labelled by stage, observed several times per call on the hot path:
    prometheus_client's Histogram takes a lock per observation (~5 µs here), this a bisect."""

    def __init__(self, name: str, documentation: str, buckets: Sequence[float]) -> None:
        self._name = name
        self._documentation = documentation
        self._bounds = list(buckets)
        self._clocks: dict[str, StageClock] = {}

    def labels(self, stage: str) -> StageClock:
        clock = self._clocks.get(stage)
        if clock is None:
            clock = self._clocks[stage] = StageClock(len(self._bounds) + 1)
        return clock

    def observe(self, clock: StageClock, seconds: float) -> None:
        clock.counts[bisect_left(self._bounds, seconds)] += 1
        clock.total += seconds

    def collect(self) -> Iterator[HistogramMetricFamily]:
        family = HistogramMetricFamily(self._name, self._documentation, labels=["stage"])
        for stage, clock in sorted(self._clocks.items()):
            running, buckets = 0, []
            for bound, count in zip([*map(str, self._bounds), "+Inf"], clock.counts, strict=True):
                running += count
                buckets.append((bound, float(running)))
            family.add_metric([stage], buckets, clock.total)
        yield family
