"""The console's aggregates, counted in SQL on SQLite and PostgreSQL: audit counts by tool,
agent and hour (masked entities summed from JSON), ledger usage in hour buckets."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session

from broker.demo.upstreams.serve import BackgroundServer
from broker.store.db import make_engine, make_sessionmaker
from broker.store.models import AuditRecord, LlmUsageRecord
from tests.conftest import RunningGateway, start_gateway

NOW = datetime.now(UTC).replace(minute=30, second=0, microsecond=0)
EARLIER = NOW - timedelta(hours=2)


def audit(agent: str, tool: str, outcome: str, *, ts: datetime = NOW, **extra: Any) -> AuditRecord:
    values: dict[str, Any] = {
        "decision": "deny" if outcome == "denied" else "allow",
        "masked": None,
        "cache": None,
    }
    values.update(extra)
    fixed = {"request_id": "r", "team": "t", "reason": "", "error": None, "latency_ms": 2.0,
             "arguments_hash": None, "argument_names": [], "policy_revision": 1}  # fmt: skip
    return AuditRecord(ts=ts, agent=agent, tool=tool, outcome=outcome, **fixed, **values)


def usage(agent: str, tokens: int, cost: float, ts: datetime) -> LlmUsageRecord:
    fixed = {"request_id": "r", "team": "t", "endpoint": "chat", "model": "m", "provider": "p",
             "upstream_model": "m", "stream": False, "status": "ok", "http_status": 200,
             "cached_tokens": 0, "estimated": False, "latency_ms": 1.0, "ttft_ms": None,
             "attempts": 1, "error": None}  # fmt: skip
    return LlmUsageRecord(
        ts=ts, agent=agent, prompt_tokens=tokens, completion_tokens=2 * tokens, cost_usd=cost, **fixed
    )


@pytest.fixture
def gateway_with_records(database_url: str) -> Iterator[RunningGateway]:
    server: BackgroundServer
    server, gateway = start_gateway(database_url)
    engine = make_engine(database_url)
    try:
        with make_sessionmaker(engine).begin() as session:
            _records(session)
        yield gateway
    finally:
        engine.dispose()
        gateway.admin.close()
        server.stop()


def _records(session: Session) -> None:
    session.add_all([
        audit("bot", "crm.get", "ok", cache="miss", masked={"EMAIL_ADDRESS": 2, "PHONE_NUMBER": 1}),
        audit("bot", "crm.get", "ok", cache="hit", masked={"EMAIL_ADDRESS": 3}),
        audit("bot", "crm.get", "upstream_error", cache="miss"),
        audit("bot", "weather.now", "ok", cache="coalesced", ts=EARLIER),
        audit("spy", "crm.get", "denied", end_user="alice@example.com"),
        audit("spy", "weather.now", "invalid_arguments", masked={}),
        usage("bot", 10, 0.5, NOW),
        usage("bot", 5, 0.25, EARLIER),
        usage("spy", 7, 1.0, NOW),
    ])  # fmt: skip


def test_the_console_aggregates(gateway_with_records: RunningGateway) -> None:
    """One gateway per database for the three checks: starting one costs more than the checks."""
    audit_summary_counts_in_sql(gateway_with_records)
    usage_in_hour_buckets(gateway_with_records)
    audit_trail_pages_and_time_filters(gateway_with_records)


def audit_summary_counts_in_sql(gateway_with_records: RunningGateway) -> None:
    admin = gateway_with_records.admin
    report = admin.get("/admin/audit/summary", params={"by": "tool"}).json()
    lines = {line["group"]["tool"]: line for line in report["lines"]}
    crm = lines["crm.get"]
    assert (crm["calls"], crm["ok"], crm["denied"], crm["upstream_errors"]) == (4, 2, 1, 1)
    assert (crm["cache_hits"], crm["cache_lookups"], crm["cache_hit_ratio"]) == (1, 3, 0.3333)
    assert crm["masked"] == {"EMAIL_ADDRESS": 5, "PHONE_NUMBER": 1} and crm["masked_total"] == 6
    weather = lines["weather.now"]
    assert (weather["calls"], weather["other_errors"], weather["cache_hit_ratio"], weather["masked"]) == (
        2,
        1,
        1.0,
        {},
    )
    total = report["total"]
    assert (total["calls"], total["masked_total"], total["cache_hits"], total["cache_lookups"]) == (
        6,
        6,
        2,
        4,
    )

    by_agent = admin.get("/admin/audit/summary", params={"by": "agent,hour"}).json()["lines"]
    hours = {(line["group"]["agent"], line["group"]["hour"]): line["calls"] for line in by_agent}
    stamp = "%Y-%m-%dT%H:00:00Z"
    assert hours == {
        ("bot", EARLIER.strftime(stamp)): 1,
        ("bot", NOW.strftime(stamp)): 3,
        ("spy", NOW.strftime(stamp)): 2,
    }

    since = admin.get(
        "/admin/audit/summary", params={"by": "", "since": (NOW - timedelta(hours=1)).isoformat()}
    )
    assert since.json()["total"]["calls"] == 5
    wrong = admin.get("/admin/audit/summary", params={"by": "colour"})
    assert wrong.status_code == 422 and "cannot group by colour" in wrong.json()["error"]["message"]


def usage_in_hour_buckets(gateway_with_records: RunningGateway) -> None:
    since = (NOW - timedelta(hours=5)).isoformat()
    lines = gateway_with_records.admin.get(
        "/admin/llm/usage", params={"by": "hour,agent", "since": since}
    ).json()
    found = {
        (line["group"]["hour"], line["group"]["agent"]): (line["prompt_tokens"], line["cost_usd"])
        for line in lines["lines"]
    }
    stamp = "%Y-%m-%dT%H:00:00Z"
    assert found == {
        (EARLIER.strftime(stamp), "bot"): (5, 0.25),
        (NOW.strftime(stamp), "bot"): (10, 0.5),
        (NOW.strftime(stamp), "spy"): (7, 1.0),
    }


def audit_trail_pages_and_time_filters(gateway_with_records: RunningGateway) -> None:
    admin = gateway_with_records.admin
    newest = admin.get("/admin/audit", params={"limit": 2}).json()
    older = admin.get("/admin/audit", params={"limit": 10, "before_id": newest[-1]["id"]}).json()
    assert len(newest) == 2 and len(older) == 4 and max(r["id"] for r in older) < newest[-1]["id"]
    early = admin.get("/admin/audit", params={"until": (NOW - timedelta(hours=1)).isoformat()}).json()
    assert [r["tool"] for r in early] == ["weather.now"]
