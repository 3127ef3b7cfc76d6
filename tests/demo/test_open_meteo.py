"""The demo weather service's Open-Meteo routes answer with Open-Meteo's documented shapes."""

import time
from typing import Any

import httpx
import pytest

from broker.demo.upstreams import BackgroundServer, create_weather_app
from broker.demo.upstreams.weather_data import WEATHER_TEXT
from tests.demo.conftest import client_for

PARIS = {"latitude": 48.8566, "longitude": 2.3522}
CURRENT = "temperature_2m,relative_humidity_2m,wind_speed_10m,weather_code"
DAILY = "temperature_2m_max,temperature_2m_min,precipitation_sum,weather_code"


def forecast(client: httpx.Client, **params: Any) -> dict[str, Any]:
    response = client.get("/v1/forecast", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def geocode(client: httpx.Client, name: str, **params: Any) -> dict[str, Any]:
    response = client.get("/v1/search", params={"name": name, **params})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_forecast_has_the_documented_shape(weather: httpx.Client) -> None:
    body = forecast(weather, **PARIS, current=CURRENT, daily=DAILY, forecast_days=3, timezone="auto")
    assert (body["latitude"], body["longitude"]) == (48.8566, 2.3522)
    assert (body["timezone"], body["timezone_abbreviation"], body["utc_offset_seconds"]) == (
        "Europe/Paris",
        "CET",
        3600,
    )
    assert isinstance(body["elevation"], float) and "generationtime_ms" in body
    assert body["current_units"] == {
        "time": "iso8601",
        "interval": "seconds",
        "temperature_2m": "°C",
        "relative_humidity_2m": "%",
        "wind_speed_10m": "km/h",
        "weather_code": "wmo code",
    }
    current = body["current"]
    assert list(current) == ["time", "interval", *CURRENT.split(",")]
    assert (current["time"], current["interval"]) == ("2025-01-15T15:30", 900)  # 14:30 UTC in Paris
    assert current["weather_code"] in WEATHER_TEXT
    assert body["daily_units"] == {
        "time": "iso8601",
        "temperature_2m_max": "°C",
        "temperature_2m_min": "°C",
        "precipitation_sum": "mm",
        "weather_code": "wmo code",
    }
    daily = body["daily"]
    assert daily["time"] == ["2025-01-15", "2025-01-16", "2025-01-17"]
    assert all(len(daily[name]) == 3 for name in DAILY.split(","))
    assert all(
        lo <= hi for lo, hi in zip(daily["temperature_2m_min"], daily["temperature_2m_max"], strict=True)
    )


def test_only_requested_blocks_are_answered(weather: httpx.Client) -> None:
    body = forecast(weather, **PARIS)
    assert "current" not in body and "daily" not in body
    assert body["timezone"] == "GMT" and body["utc_offset_seconds"] == 0
    assert forecast(weather, **PARIS, current="weather_code")["current"]["time"] == "2025-01-15T14:30"


def test_known_coordinates_get_the_city_routes_weather(weather: httpx.Client) -> None:
    by_city = weather.get("/v1/current", params={"city": "Paris"}).json()["current"]
    by_place = forecast(weather, latitude=48.86, longitude=2.35, current=CURRENT)["current"]
    for name in CURRENT.split(","):
        assert by_place[name] == by_city[name]
    days = weather.get("/v1/forecast", params={"city": "Paris", "days": 2}).json()["daily"]
    columns = forecast(weather, **PARIS, daily=DAILY, forecast_days=2)["daily"]
    assert columns["temperature_2m_max"] == [day["temperature_2m_max"] for day in days]


def test_units(weather: httpx.Client) -> None:
    metric = forecast(weather, **PARIS, current=CURRENT, daily="precipitation_sum", forecast_days=16)
    other = forecast(
        weather,
        **PARIS,
        current=CURRENT,
        daily="precipitation_sum",
        forecast_days=16,
        temperature_unit="fahrenheit",
        wind_speed_unit="mph",
        precipitation_unit="inch",
    )
    assert (other["current_units"]["temperature_2m"], other["current_units"]["wind_speed_10m"]) == (
        "°F",
        "mp/h",
    )
    assert other["daily_units"]["precipitation_sum"] == "inch"
    assert other["current"]["temperature_2m"] == pytest.approx(
        metric["current"]["temperature_2m"] * 9 / 5 + 32, abs=0.06
    )
    assert other["current"]["wind_speed_10m"] == pytest.approx(
        metric["current"]["wind_speed_10m"] / 1.609344, abs=0.06
    )
    inches = other["daily"]["precipitation_sum"]
    assert inches == pytest.approx([mm / 25.4 for mm in metric["daily"]["precipitation_sum"]], abs=0.001)
    knots = forecast(weather, **PARIS, current="wind_speed_10m", wind_speed_unit="kn")
    assert knots["current_units"]["wind_speed_10m"] == "kn"


def test_any_coordinates_get_a_plausible_climate(weather: httpx.Client) -> None:
    def mean_max(latitude: float) -> float:
        daily = forecast(weather, latitude=latitude, longitude=10.0, daily="temperature_2m_max")["daily"]
        return float(sum(daily["temperature_2m_max"])) / len(daily["time"])

    assert mean_max(1.0) > mean_max(45.0) > mean_max(75.0)  # mid-January, northern hemisphere
    texas = forecast(weather, latitude=33.66094, longitude=-95.55551, timezone="auto", daily="weather_code")
    assert (texas["timezone"], texas["utc_offset_seconds"]) == ("America/Chicago", -6 * 3600)
    assert len(texas["daily"]["time"]) == 7  # Open-Meteo's default


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"latitude": 91, "longitude": 0}, "latitude"),
        ({"longitude": 0}, "latitude"),
        ({"latitude": 0, "longitude": 0, "current": "temperature_2m,snowfall_height"}, "snowfall_height"),
        ({"latitude": 0, "longitude": 0, "daily": "sunshine"}, "sunshine"),
        ({"latitude": 0, "longitude": 0, "forecast_days": 17}, "forecast_days"),
        ({"latitude": 0, "longitude": 0, "timezone": "Mars/Olympus"}, "Invalid timezone"),
        ({"latitude": 0, "longitude": 0, "temperature_unit": "kelvin"}, "temperature_unit"),
    ],
)
def test_bad_forecast_parameters_are_open_meteo_errors(
    weather: httpx.Client, params: dict[str, Any], reason: str
) -> None:
    response = weather.get("/v1/forecast", params=params)
    assert response.status_code == 400
    body = response.json()
    assert body["error"] is True and reason in body["reason"]


def test_geocoding_has_the_documented_shape(weather: httpx.Client) -> None:
    body = geocode(weather, "Paris", count=5, language="en", format="json")
    first, second = body["results"]
    assert first == {
        "id": 2988507,
        "name": "Paris",
        "latitude": 48.8566,
        "longitude": 2.3522,
        "elevation": 42.0,
        "feature_code": "PPLC",
        "country_code": "FR",
        "timezone": "Europe/Paris",
        "population": 2138551,
        "country": "France",
        "admin1": "Île-de-France",
    }
    assert (second["country_code"], second["admin1"]) == ("US", "Texas")
    assert [r["country_code"] for r in geocode(weather, "paris", countryCode="us")["results"]] == ["US"]
    assert len(geocode(weather, "Paris", count=1)["results"]) == 1
    assert "admin1" not in geocode(weather, "Singapore")["results"][0]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Atlantis", []),
        ("P", []),  # one character finds nothing
        ("Pa", []),  # two must be a whole name
        ("sao", ["São Paulo"]),  # accents and case ignored, prefix match
        ("york", ["New York"]),  # a word of the name
        ("london", ["London", "London"]),
    ],
)
def test_geocoding_matches_like_open_meteo(weather: httpx.Client, name: str, expected: list[str]) -> None:
    body = geocode(weather, name)
    assert [r["name"] for r in body.get("results", [])] == expected
    if not expected:
        assert "results" not in body  # as documented: no key at all


@pytest.mark.parametrize(
    "params", [{"name": "Paris", "count": 0}, {"name": "Paris", "format": "protobuf"}, {}]
)
def test_bad_geocoding_parameters_are_open_meteo_errors(
    weather: httpx.Client, params: dict[str, Any]
) -> None:
    response = weather.get("/v1/search", params=params)
    assert response.status_code == 400 and response.json()["error"] is True


def test_open_meteo_routes_stay_out_of_the_demo_document(weather: httpx.Client) -> None:
    document = weather.get("/openapi.json").json()
    assert "/v1/search" not in document["paths"]
    assert [p["name"] for p in document["paths"]["/v1/forecast"]["get"]["parameters"]] == [
        "city",
        "days",
        "units",
    ]


def test_latency_applies_to_the_open_meteo_routes() -> None:
    with (
        BackgroundServer(create_weather_app(latency_seconds=0.2)) as server,
        client_for(server.url) as client,
    ):
        started = time.monotonic()
        assert client.get("/v1/search", params={"name": "Rome"}).status_code == 200
        assert client.get("/v1/forecast", params=PARIS).status_code == 200
        assert time.monotonic() - started >= 0.4
