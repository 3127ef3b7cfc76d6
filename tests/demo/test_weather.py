"""The demo weather service over HTTP: shapes, determinism, validation, latency."""

import asyncio
import time
from datetime import date, timedelta

import httpx
import pytest

from broker.demo.upstreams import BackgroundServer, create_weather_app
from broker.demo.upstreams.weather_data import CITIES, WEATHER_TEXT
from tests.demo.conftest import PINNED_NOW, client_for, pinned_clock


def test_current_conditions(weather: httpx.Client) -> None:
    response = weather.get("/v1/current", params={"city": "Paris"})
    assert response.status_code == 200
    body = response.json()
    assert body["city"] == "Paris"
    assert body["country"] == "FR"
    assert (body["latitude"], body["longitude"]) == (48.8566, 2.3522)
    assert body["units"] == "metric"
    assert body["current_units"]["temperature_2m"] == "°C"
    assert body["current_units"]["wind_speed_10m"] == "km/h"
    current = body["current"]
    assert current["time"] == "2025-01-15T14:00"
    assert current["weather_text"] == WEATHER_TEXT[current["weather_code"]]
    assert 0 <= current["relative_humidity_2m"] <= 100
    assert current["wind_speed_10m"] >= 0


def test_values_are_pinned_by_city_and_date(weather: httpx.Client) -> None:
    """Golden values: the model is hash-based, so they hold in every process on every machine."""
    current = weather.get("/v1/current", params={"city": "Paris"}).json()["current"]
    assert (current["temperature_2m"], current["wind_speed_10m"], current["weather_code"]) == (7.7, 11.3, 45)


def test_repeated_calls_and_fresh_apps_agree(weather: httpx.Client) -> None:
    params: dict[str, str | int] = {"city": "Tokyo", "days": 7}
    first = weather.get("/v1/forecast", params=params).json()
    assert weather.get("/v1/forecast", params=params).json() == first
    with (
        BackgroundServer(create_weather_app(clock=pinned_clock)) as other,
        client_for(other.url) as client,
    ):
        assert client.get("/v1/forecast", params=params).json() == first


def test_city_lookup_ignores_case_and_accents(weather: httpx.Client) -> None:
    canonical = weather.get("/v1/current", params={"city": "São Paulo"}).json()
    assert canonical["city"] == "São Paulo"
    for spelling in ("sao paulo", "SÃO PAULO", "  Sao Paulo "):
        assert weather.get("/v1/current", params={"city": spelling}).json() == canonical


def test_cities_and_days_differ(weather: httpx.Client) -> None:
    temperatures = {
        weather.get("/v1/current", params={"city": city.name}).json()["current"]["temperature_2m"]
        for city in CITIES
    }
    assert len(temperatures) > len(CITIES) // 2
    daily = weather.get("/v1/forecast", params={"city": "London", "days": 7}).json()["daily"]
    assert len({(d["temperature_2m_max"], d["temperature_2m_min"]) for d in daily}) == 7


def test_climate_is_plausible(weather: httpx.Client) -> None:
    def mean_max(city: str) -> float:
        daily = weather.get("/v1/forecast", params={"city": city, "days": 7}).json()["daily"]
        return float(sum(d["temperature_2m_max"] for d in daily)) / len(daily)

    assert mean_max("Singapore") > mean_max("Sydney") > mean_max("Moscow")  # mid-January


def test_imperial_units_convert(weather: httpx.Client) -> None:
    metric = weather.get("/v1/current", params={"city": "New York"}).json()
    imperial = weather.get("/v1/current", params={"city": "New York", "units": "imperial"}).json()
    assert imperial["units"] == "imperial"
    assert imperial["current_units"]["temperature_2m"] == "°F"
    celsius, fahrenheit = metric["current"]["temperature_2m"], imperial["current"]["temperature_2m"]
    assert fahrenheit == pytest.approx(celsius * 9 / 5 + 32, abs=0.06)
    assert imperial["current"]["wind_speed_10m"] == pytest.approx(
        metric["current"]["wind_speed_10m"] / 1.609344, abs=0.06
    )


@pytest.mark.parametrize("days", [1, 3, 7])
def test_forecast_length_and_dates(weather: httpx.Client, days: int) -> None:
    body = weather.get("/v1/forecast", params={"city": "Cairo", "days": days}).json()
    start = PINNED_NOW.date()
    assert [d["date"] for d in body["daily"]] == [(start + timedelta(n)).isoformat() for n in range(days)]
    assert body["daily_units"]["precipitation_sum"] == "mm"


def test_forecast_defaults_to_three_days(weather: httpx.Client) -> None:
    assert len(weather.get("/v1/forecast", params={"city": "Rome"}).json()["daily"]) == 3


def test_forecast_days_are_consistent(weather: httpx.Client) -> None:
    for city in ("Reykjavik", "Mumbai", "Buenos Aires"):
        for day in weather.get("/v1/forecast", params={"city": city, "days": 7}).json()["daily"]:
            assert day["temperature_2m_min"] <= day["temperature_2m_max"]
            assert day["weather_text"] == WEATHER_TEXT[day["weather_code"]]
            dry = day["weather_code"] in (0, 1, 2, 3, 45)
            assert (day["precipitation_sum"] == 0) == dry
            date.fromisoformat(day["date"])


def test_unknown_city_is_404_with_the_known_cities(weather: httpx.Client) -> None:
    for path in ("/v1/current", "/v1/forecast"):
        response = weather.get(path, params={"city": "Atlantis"})
        assert response.status_code == 404
        body = response.json()
        assert body["error"] == "unknown city 'Atlantis'"
        assert body["known_cities"] == sorted(city.name for city in CITIES)


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/v1/current", {}),
        ("/v1/current", {"city": ""}),
        ("/v1/current", {"city": "Paris", "units": "kelvin"}),
        ("/v1/forecast", {"city": "Paris", "days": 0}),
        ("/v1/forecast", {"city": "Paris", "days": 8}),
        ("/v1/forecast", {"city": "Paris", "days": "three"}),
    ],
)
def test_bad_parameters_are_422(weather: httpx.Client, path: str, params: dict[str, str | int]) -> None:
    assert weather.get(path, params=params).status_code == 422


def test_healthz(weather: httpx.Client) -> None:
    assert weather.get("/healthz").json() == {"status": "ok", "service": "demo-weather"}


async def test_latency_applies_to_data_calls() -> None:
    latency = 0.3
    async with (
        BackgroundServer(create_weather_app(latency_seconds=latency)) as server,
        httpx.AsyncClient(base_url=server.url, trust_env=False) as client,
    ):
        started = time.monotonic()
        calls = [client.get("/v1/current", params={"city": "Berlin"}) for _ in range(5)]
        responses = await asyncio.gather(*calls)
        waited = time.monotonic() - started
        assert all(r.status_code == 200 for r in responses)
        assert waited >= latency  # a lower bound only: a busy machine can only make it later


def test_negative_latency_is_rejected() -> None:
    with pytest.raises(ValueError, match="latency_seconds"):
        create_weather_app(latency_seconds=-1)
