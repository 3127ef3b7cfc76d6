"""The demo's weather lookups are cached: a newcomer sees hits in the audit log and metrics."""

from __future__ import annotations

import httpx

from tests.e2e.conftest import DemoCatalog
from tests.e2e.helpers import mcp_client


async def test_repeated_weather_lookups_are_served_from_the_cache(demo: DemoCatalog) -> None:
    gateway = demo.gateway
    async with mcp_client(gateway.mcp_url, demo.support_key) as client:
        answers = [await client.call_tool("weather.current", {"city": "Paris"}) for _ in range(3)]
    assert all(not a.is_error for a in answers)
    assert answers[0].structured_content == answers[2].structured_content
    async with mcp_client(gateway.mcp_url, demo.analyst_key) as client:
        for _ in range(2):
            assert not (await client.call_tool("weather.forecast", {"city": "Rome", "days": 3})).is_error

    records = gateway.admin.get("/admin/audit", params={"limit": 10}).json()
    seen = [(r["agent"], r["tool"], r["cache"]) for r in reversed(records)]
    assert seen == [
        ("support-bot", "weather.current", "miss"),
        ("support-bot", "weather.current", "hit"),
        ("support-bot", "weather.current", "hit"),
        ("analyst", "weather.forecast", "miss"),
        ("analyst", "weather.forecast", "hit"),
    ]
    metrics = httpx.get(f"{gateway.url}/metrics").text
    assert 'broker_cache_lookups_total{status="hit",tool="weather.current"} 2.0' in metrics
    stats = gateway.admin.get("/admin/cache").json()
    assert stats["by_tool"] == {"weather.current": 1, "weather.forecast": 1}
    assert stats["lookups"]["hit"] == 3 and stats["lookups"]["miss"] == 2
