"""Prometheus metrics, on a registry of our own so tests and several apps don't collide."""

from __future__ import annotations

import time
from bisect import bisect_left
from collections.abc import Iterator, Sequence
from typing import TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge
from prometheus_client import metrics as client_metrics
from prometheus_client.core import HistogramMetricFamily, Metric
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from broker.memo import Memo

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

M = TypeVar("M", bound=MetricWrapperBase)


class Children:
    """Children of labelled metrics, looked up once per label set: `labels()` validates its
    values and takes a lock on every call, a visible share of a cache hit's own work. Bounded
    (label values such as agent names come from the callers): emptied whole at `limit` sets."""

    __slots__ = ("_children",)

    def __init__(self, limit: int = 4096) -> None:
        self._children: Memo[tuple[object, ...], MetricWrapperBase] = Memo(limit)

    def __call__(self, metric: M, *labels: str) -> M:
        key = (metric, *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children.keep(key, metric.labels(*labels))
        return child  # type: ignore[return-value]  # labels() returns the metric's own type


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        # Observed by the Audit stage on every call (on the event loop only): LoopCounter and
        # LoopHistogram, exposed exactly as prometheus_client's Counter and Histogram.
        self.tool_calls = LoopCounter(
            "broker_tool_calls",
            "tools/call requests by agent, tool and outcome",
            ("agent", "tool", "outcome"),
        )
        self.tool_latency = LoopHistogram(
            "broker_tool_call_duration_seconds",
            "Time from receiving a tools/call to its answer, upstream included",
            ("tool", "outcome"),
            LATENCY_BUCKETS,
        )
        self.requests = LoopCounter(
            "broker_requests",
            "Upstream operations (tools/call, resources/read, prompts/get, completion/complete) by agent, "
            "operation, connector and outcome",
            ("agent", "operation", "connector", "outcome"),
        )
        self.request_latency = LoopHistogram(
            "broker_request_duration_seconds",
            "Time from receiving an upstream operation to its answer, upstream included, by operation",
            ("operation", "outcome"),
            LATENCY_BUCKETS,
        )
        # Also on every call, on the event loop only: the fast path's answers and MaskPII's figures.
        self.mcp_fast = LoopCounter(
            "broker_mcp_fast_path_requests",
            "MCP requests the fast path answered (broker/mcp/fastpath.py) by method; the SDK serves the rest",
            ("method",),
        )
        self.pii_masked = LoopCounter(
            "broker_pii_masked",
            "Entities masked in tool results and upstream errors, by entity type",
            ("entity",),
        )
        self.pii_mask_seconds = LoopHistogram(
            "broker_pii_mask_duration_seconds",
            "Time MaskPII spends per tool call (token resolution and masking, upstream excluded)",
            (),
            (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1),
        )
        for collector in (
            self.tool_calls,
            self.tool_latency,
            self.requests,
            self.request_latency,
            self.mcp_fast,
            self.pii_masked,
            self.pii_mask_seconds,
        ):
            self.registry.register(collector)
        self.audit_written = Counter(
            "broker_audit_records_written", "Audit records stored", registry=self.registry
        )
        self.audit_write_errors = Counter(
            "broker_audit_write_errors",
            "Failed attempts to store a batch of audit records",
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


class Tally:
    """One label set of a LoopCounter."""

    __slots__ = ("created", "value")

    def __init__(self) -> None:
        self.value = 0.0
        self.created = time.time()


class Spread:
    """One label set of a LoopHistogram: counts per bucket (not cumulative) and their sum."""

    __slots__ = ("bounds", "counts", "created", "total")

    def __init__(self, bounds: list[float]) -> None:
        self.bounds = bounds
        self.counts = [0] * len(bounds)
        self.total = 0.0
        self.created = time.time()

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1
        self.total += value


class LoopCounter(Collector):
    """A labelled counter updated on the event loop only, so without prometheus_client's lock and
    label checks per update (~0.7 us of the ~1 us a Counter update costs through a memo of its
    children); scraped in the same text as a Counter: `_total` and `_created` per label set, in
    the order label sets were first used. Update `child(...).value` directly."""

    def __init__(self, name: str, documentation: str, labelnames: Sequence[str]) -> None:
        self._name = name
        self._documentation = documentation
        self._labelnames = tuple(labelnames)
        self._children: dict[tuple[str, ...], Tally] = {}

    def child(self, *labels: str) -> Tally:
        tally = self._children.get(labels)
        if tally is None:
            tally = self._children[labels] = Tally()
        return tally

    def describe(self) -> Iterator[Metric]:
        yield Metric(self._name, self._documentation, "counter")

    def collect(self) -> Iterator[Metric]:
        family = Metric(self._name, self._documentation, "counter")
        for labels, tally in list(self._children.items()):
            values = dict(zip(self._labelnames, labels, strict=True))
            family.add_sample(f"{self._name}_total", values, tally.value)
            if client_metrics._use_created:  # disable_created_metrics() applies here too
                family.add_sample(f"{self._name}_created", dict(values), tally.created)
        yield family


class LoopHistogram(Collector):
    """A labelled histogram updated on the event loop only (see LoopCounter), scraped in the same
    text as prometheus_client's Histogram: cumulative `_bucket`s, `_count`, `_sum`, `_created`."""

    def __init__(
        self, name: str, documentation: str, labelnames: Sequence[str], buckets: Sequence[float]
    ) -> None:
        self._name = name
        self._documentation = documentation
        self._labelnames = tuple(labelnames)
        self._bounds = [*buckets, float("inf")]
        self._les = [floatToGoString(bound) for bound in self._bounds]  # type: ignore[no-untyped-call]  # as Histogram
        self._children: dict[tuple[str, ...], Spread] = {}

    def child(self, *labels: str) -> Spread:
        spread = self._children.get(labels)
        if spread is None:
            spread = self._children[labels] = Spread(self._bounds)
        return spread

    def describe(self) -> Iterator[Metric]:
        yield Metric(self._name, self._documentation, "histogram")

    def collect(self) -> Iterator[Metric]:
        family = Metric(self._name, self._documentation, "histogram")
        for labels, spread in list(self._children.items()):
            values = dict(zip(self._labelnames, labels, strict=True))
            running = 0.0
            for le, count in zip(self._les, list(spread.counts), strict=True):
                running += count
                family.add_sample(f"{self._name}_bucket", {**values, "le": le}, running)
            family.add_sample(f"{self._name}_count", dict(values), running)
            family.add_sample(f"{self._name}_sum", dict(values), spread.total)
            if client_metrics._use_created:
                family.add_sample(f"{self._name}_created", dict(values), spread.created)
        yield family
