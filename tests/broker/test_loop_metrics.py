"""LoopCounter and LoopHistogram are scraped exactly as prometheus_client's Counter and Histogram."""

from __future__ import annotations

import re

import pytest
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from broker.metrics import LATENCY_BUCKETS, LoopCounter, LoopHistogram

CREATED = re.compile(rb"(_created\{[^}]*\}) \S+")


def scraped(registry: CollectorRegistry) -> bytes:
    return CREATED.sub(rb"\1 T", generate_latest(registry))  # creation times differ by microseconds


@pytest.fixture(params=[True, False], ids=["created", "no-created"])
def created_series(request: pytest.FixtureRequest) -> bool:
    from prometheus_client import disable_created_metrics, enable_created_metrics

    (enable_created_metrics if request.param else disable_created_metrics)()
    yield request.param
    enable_created_metrics()


def test_the_same_text_as_prometheus_client(created_series: bool) -> None:
    ours, theirs = CollectorRegistry(), CollectorRegistry()
    counter = LoopCounter("calls", "Calls by agent and outcome", ("agent", "outcome"))
    histogram = LoopHistogram("call_seconds", "Call time", ("outcome",), LATENCY_BUCKETS)
    ours.register(counter)
    ours.register(histogram)
    their_counter = Counter("calls", "Calls by agent and outcome", ["agent", "outcome"], registry=theirs)
    their_histogram = Histogram(
        "call_seconds", "Call time", ["outcome"], buckets=LATENCY_BUCKETS, registry=theirs
    )
    assert scraped(ours) == scraped(theirs)  # families with no label set yet
    for agent, outcome, seconds in [
        ("b", "ok", 0.0004),
        ("a", "ok", 0.001),
        ("b", "denied", 0.3),
        ("b", "ok", 2.5),
        ("a", 'odd "label"\n', 45.0),
        ("b", "ok", 1e-7),
    ]:
        counter.child(agent, outcome).value += 1.0
        histogram.child(outcome).observe(seconds)
        their_counter.labels(agent, outcome).inc()
        their_histogram.labels(outcome).observe(seconds)
    text = scraped(ours)
    assert text == scraped(theirs)
    assert (b"_created" in text) is created_series
    assert b'calls_total{agent="b",outcome="ok"} 3.0' in text
    assert b'call_seconds_bucket{le="1.0",outcome="ok"} 3.0' in text
