"""The Grafana dashboard in the repository asks only for metrics the gateway exports."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import RunningGateway

DASHBOARD = Path(__file__).resolve().parents[2] / "docs" / "grafana" / "broker.json"
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "summary": ("_sum", "_count")}
NAME = re.compile(r"\b((?:broker|gen_ai)_[a-z0-9_]+)\b")
LABELS = re.compile(r"\bby \([^)]*\)|\{[^}]*\}")
"""Label lists and selectors, left out before looking for metric names."""


def exported(gateway: RunningGateway) -> set[str]:
    text = httpx.get(f"{gateway.url}/metrics").text
    return {
        family.name + suffix
        for family in text_string_to_metric_families(text)
        for suffix in SUFFIXES.get(family.type, ("",))
    }


def test_every_dashboard_query_names_an_exported_metric(gateway: RunningGateway) -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    queries = [t["expr"] for panel in dashboard["panels"] for t in panel.get("targets", [])]
    assert len(queries) >= 15
    names = exported(gateway)
    asked = {name for query in queries for name in NAME.findall(LABELS.sub("", query))}
    assert asked - names == set(), f"the dashboard asks for metrics /metrics does not export: {asked - names}"
    # the areas the issue names all have a panel
    for needle in ("stage", "cost_usd", "tokens", "budget_remaining", "cache", "pii", "denied",
                   "upstream_errors", "circuit_breaker", "gen_ai_client"):  # fmt: skip
        assert any(needle in query for query in queries), needle
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
