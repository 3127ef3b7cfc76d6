"""/admin/audit and /admin/tools after real MCP calls."""

from __future__ import annotations

from tests.admin.conftest import error_of, problems_by_field, weather_connector
from tests.conftest import RunningGateway
from tests.e2e.helpers import mcp_client


async def test_calls_show_up_in_the_audit_log_at_once(gateway: RunningGateway, weather_upstream: str) -> None:
    admin = gateway.admin
    key = gateway.create_agent("bot")
    gateway.create_agent("other")
    admin.post("/admin/connectors", json=weather_connector(weather_upstream)).raise_for_status()
    policy = {"name": "p", "agents": ["bot"], "allow": ["weather.*"]}
    admin.post("/admin/policies", json={"policies": [policy]}).raise_for_status()

    async with mcp_client(gateway.mcp_url, key) as client:
        await client.call_tool("weather.current", {"city": "Paris"})
        await client.call_tool("weather.current", {"city": "Paris"})

    records = admin.get("/admin/audit", params={"agent": "bot"}).json()
    assert [(r["tool"], r["outcome"]) for r in records] == [("weather.current", "ok")] * 2
    assert records[0]["id"] > records[1]["id"]  # newest first
    assert records[0]["argument_names"] == ["city"]
    assert "Paris" not in str(records)

    assert admin.get("/admin/audit", params={"after_id": records[0]["id"]}).json() == []
    assert len(admin.get("/admin/audit", params={"limit": 1}).json()) == 1
    assert admin.get("/admin/audit", params={"agent": "other"}).json() == []
    assert admin.get("/admin/audit", params={"outcome": "denied"}).json() == []
    assert len(admin.get("/admin/audit", params={"tool": "weather.current"}).json()) == 2
    assert "query.limit" in problems_by_field(admin.get("/admin/audit", params={"limit": 0}))


def test_the_catalog_and_what_an_agent_sees(gateway: RunningGateway, weather_upstream: str) -> None:
    admin = gateway.admin
    gateway.create_agent("bot")
    admin.post("/admin/connectors", json=weather_connector(weather_upstream)).raise_for_status()
    admin.post(
        "/admin/connectors", json=weather_connector(weather_upstream, name="backup")
    ).raise_for_status()
    admin.post(
        "/admin/policies", json={"policies": [{"name": "p", "agents": ["bot"], "allow": ["weather.*"]}]}
    )

    catalog = admin.get("/admin/tools").json()
    assert [t["name"] for t in catalog["tools"]] == ["backup.current", "weather.current"]
    assert all(t["visible"] is None for t in catalog["tools"])

    for_bot = admin.get("/admin/tools", params={"agent": "bot"}).json()
    assert for_bot["agent"] == "bot" and for_bot["policy_revision"] == 1
    visible = {t["name"]: (t["visible"], t["reason"]) for t in for_bot["tools"]}
    assert visible["weather.current"] == (True, "granted by policy 'p' (allow 'weather.*')")
    assert visible["backup.current"][0] is False
    error_of(admin.get("/admin/tools", params={"agent": "ghost"}), 404)
