"""The open-meteo preset end to end: an MCP client finds a city, then asks for its weather,
through the gateway, against a local server with Open-Meteo's documented shapes."""

from __future__ import annotations

import pytest
from mcp.shared.exceptions import MCPError

from connectors.presets import load_preset
from tests.conftest import RunningGateway
from tests.e2e.helpers import mcp_client
from tests.presets.conftest import call, grant

TOOLS = ["weather-geo.find_city", "weather.current", "weather.forecast"]


@pytest.fixture
def key(keyed_gateway: RunningGateway, weather_url: str) -> str:
    configs = load_preset("open-meteo", base_url=weather_url, allow_private_network=True)
    return grant(keyed_gateway, configs, ["weather.*", "weather-geo.*"])


async def test_find_a_city_then_its_current_weather_and_forecast(
    keyed_gateway: RunningGateway, key: str
) -> None:
    async with mcp_client(keyed_gateway.mcp_url, key) as client:
        listed = {tool.name: tool for tool in (await client.list_tools()).tools}
        assert sorted(listed) == TOOLS
        assert all(tool.annotations and tool.annotations.read_only_hint for tool in listed.values())

        found = await call(client, "weather-geo.find_city", {"name": "Paris", "count": 5})
        paris = found["results"][0]
        assert {
            "id",
            "name",
            "latitude",
            "longitude",
            "country",
            "country_code",
            "admin1",
            "timezone",
        } <= set(paris)
        assert (paris["name"], paris["country_code"], paris["timezone"]) == ("Paris", "FR", "Europe/Paris")
        assert [r["country_code"] for r in found["results"]] == ["FR", "US"]  # Paris, Texas too
        where = {"latitude": paris["latitude"], "longitude": paris["longitude"]}

        current = await call(client, "weather.current", where)
        assert current["timezone"] == "Europe/Paris" and current["utc_offset_seconds"] == 3600
        assert current["current_units"]["temperature_2m"] == "°C"
        assert {"time", "interval", "temperature_2m", "relative_humidity_2m", "apparent_temperature",
                "precipitation", "weather_code", "wind_speed_10m"} == set(current["current"])  # fmt: skip
        assert current["current"]["time"] == "2025-01-15T15:30"  # local time, 15-minute steps
        assert "daily" not in current

        forecast = await call(client, "weather.forecast", {**where, "forecast_days": 3})
        daily = forecast["daily"]
        assert daily["time"] == ["2025-01-15", "2025-01-16", "2025-01-17"]
        for name in ("weather_code", "temperature_2m_max", "temperature_2m_min", "precipitation_sum",
                     "precipitation_probability_max", "wind_speed_10m_max"):  # fmt: skip
            assert len(daily[name]) == 3, name
            assert name in forecast["daily_units"]
        assert "current" not in forecast


async def test_units_and_the_default_length(keyed_gateway: RunningGateway, key: str) -> None:
    where = {"latitude": 40.7128, "longitude": -74.006}
    async with mcp_client(keyed_gateway.mcp_url, key) as client:
        metric = await call(client, "weather.current", where)
        imperial = await call(
            client,
            "weather.current",
            {
                **where,
                "temperature_unit": "fahrenheit",
                "wind_speed_unit": "mph",
                "precipitation_unit": "inch",
            },
        )
        week = await call(client, "weather.forecast", where)
    assert imperial["current_units"]["temperature_2m"] == "°F"
    assert imperial["current_units"]["wind_speed_10m"] == "mp/h"
    assert imperial["current"]["temperature_2m"] == pytest.approx(
        metric["current"]["temperature_2m"] * 9 / 5 + 32, abs=0.06
    )
    assert week["timezone"] == "America/New_York" and len(week["daily"]["time"]) == 7


async def test_arguments_outside_the_schema_never_reach_the_upstream(
    keyed_gateway: RunningGateway, key: str
) -> None:
    async with mcp_client(keyed_gateway.mcp_url, key) as client:
        for tool, arguments in (
            ("weather.current", {"latitude": 91, "longitude": 0}),
            ("weather.forecast", {"latitude": 0, "longitude": 0, "forecast_days": 17}),
            ("weather.current", {"latitude": 0, "longitude": 0, "timezone": "UTC"}),  # fixed by the preset
            ("weather-geo.find_city", {"name": "P"}),
        ):
            try:
                result = await client.call_tool(tool, arguments)
            except MCPError as exc:
                assert "schema" in exc.message.lower() or "argument" in exc.message.lower(), exc.message
            else:
                assert result.is_error, (tool, arguments)


async def test_no_match_is_an_empty_answer_as_documented(keyed_gateway: RunningGateway, key: str) -> None:
    async with mcp_client(keyed_gateway.mcp_url, key) as client:
        found = await call(client, "weather-geo.find_city", {"name": "Atlantis"})
    assert "results" not in found
