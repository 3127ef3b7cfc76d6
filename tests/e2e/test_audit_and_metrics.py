"""What the operator sees after assistants have called tools: audit records and metrics."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp.shared.exceptions import MCPError
from sqlalchemy import select

from broker.canonical import fingerprint
from broker.demo.crm_db import create_crm_database
from broker.demo.run import HUBSPOT_SECRET
from broker.store.db import make_engine, make_sessionmaker
from broker.store.models import AuditRecord
from tests.conftest import RunningGateway, start_gateway
from tests.e2e.conftest import DemoCatalog
from tests.e2e.helpers import demo_document, mcp_client


async def test_every_call_is_audited_without_argument_values(demo: DemoCatalog) -> None:
    async with mcp_client(demo.gateway.mcp_url, demo.support_key) as client:
        await client.call_tool("crm.search_contacts", {"query": "Schneider-Unique-Needle"})
        await client.call_tool("crm.list_contacts", {"limit": 80})  # denied by a constraint
        await client.call_tool("weather.current", {"city": 42})  # invalid arguments
        with pytest.raises(MCPError):
            await client.call_tool("crm.get_top_customers", {})  # hidden from support

    records = demo.gateway.admin.get("/admin/audit", params={"agent": "support-bot", "limit": 10}).json()
    records = records["records"] if isinstance(records, dict) else records
    by_tool = {r["tool"]: r for r in records}
    assert by_tool["crm.search_contacts"]["outcome"] == "ok"
    assert by_tool["crm.search_contacts"]["decision"] == "allow"
    assert "support" in by_tool["crm.search_contacts"]["reason"]
    assert by_tool["crm.list_contacts"]["outcome"] == "denied"
    assert "limit" in by_tool["crm.list_contacts"]["reason"]
    assert by_tool["weather.current"]["outcome"] == "invalid_arguments"
    assert by_tool["crm.get_top_customers"]["outcome"] == "unknown_tool"
    assert all(r["latency_ms"] >= 0 for r in records)
    assert "Schneider-Unique-Needle" not in json.dumps(records)
    assert by_tool["crm.search_contacts"]["argument_names"] == ["query"]
    key = demo.gateway.settings.audit_hash_key.get_secret_value().encode()
    with make_sessionmaker(make_engine(demo.gateway.database_url))() as session:
        query = select(AuditRecord.tool, AuditRecord.arguments_hash).where(AuditRecord.agent == "support-bot")
        hashes = {tool: digest for tool, digest in session.execute(query)}
    for tool, arguments in [  # validated (its canonical JSON reused), denied before validation, invalid
        ("crm.search_contacts", {"query": "Schneider-Unique-Needle"}),
        ("crm.list_contacts", {"limit": 80}),
        ("weather.current", {"city": 42}),
    ]:
        assert hashes[tool] == fingerprint(key, arguments)

    metrics = httpx.get(f"{demo.gateway.url}/metrics").text
    assert (
        'broker_tool_calls_total{agent="support-bot",outcome="ok",tool="crm.search_contacts"} 1.0' in metrics
    )
    assert (
        'broker_tool_calls_total{agent="support-bot",outcome="denied",tool="crm.list_contacts"} 1.0'
        in metrics
    )
    assert 'broker_tool_call_duration_seconds_count{outcome="ok",tool="crm.search_contacts"} 1.0' in metrics


async def test_a_policy_change_applies_to_the_next_call_without_a_restart(demo: DemoCatalog) -> None:
    async with mcp_client(demo.gateway.mcp_url, demo.analyst_key) as client:
        assert (await client.call_tool("weather.forecast", {"city": "Rome", "days": 5})).is_error is False
        response = demo.gateway.admin.post(
            "/admin/policies",
            json={"policies": [{"name": "analytics", "teams": ["analytics"], "allow": ["crm.list_deals"]}]},
        )
        assert response.status_code == 200, response.text
        assert [t.name for t in (await client.list_tools()).tools] == ["crm.list_deals"]
        with pytest.raises(MCPError) as caught:
            await client.call_tool("weather.forecast", {"city": "Rome"})
    assert caught.value.code == -32602


def test_the_gateway_runs_on_postgresql(
    postgres_url: str, weather_upstream: str, crm_upstream: str, hubspot_upstream: str, tmp_path: Path
) -> None:
    server, gateway = start_gateway(postgres_url)
    document = demo_document(
        weather_upstream, crm_upstream, hubspot_upstream, create_crm_database(tmp_path / "c.db")
    )
    try:
        gateway.admin.put(f"/admin/secrets/{HUBSPOT_SECRET}", json={"value": "t"}).raise_for_status()
        _apply_and_call(gateway, document)
    finally:
        gateway.admin.close()
        server.stop()


def _apply_and_call(gateway: RunningGateway, document: dict[str, Any]) -> None:
    assert gateway.admin.post("/admin/apply", json=document).status_code == 200
    key = gateway.admin.post("/admin/agents/support-bot/keys", json={}).json()["key"]

    async def call() -> None:
        async with mcp_client(gateway.mcp_url, key) as client:
            result = await client.call_tool("weather.current", {"city": "Madrid"})
            assert result.is_error is False

    asyncio.run(call())
    records = gateway.admin.get("/admin/audit").json()
    records = records["records"] if isinstance(records, dict) else records
    assert [r["tool"] for r in records] == ["weather.current"]
