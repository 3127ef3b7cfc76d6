"""A deterministic demo weather service whose answers are shaped like Open-Meteo's.

Its own city-based routes (`/v1/current?city=`, `/v1/forecast?city=`) use Open-Meteo's field
names (`temperature_2m`, `wind_speed_10m`, `weather_code`, `*_units` blocks) with the forecast
as a list of day objects. Open-Meteo's real forecast and geocoding API (`/v1/forecast?latitude=`,
`/v1/search`) is served too, from broker/demo/upstreams/open_meteo.py.
Build a fresh app with `create_weather_app()`; it holds no state of its own.
"""

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import FastAPI, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from broker.demo.upstreams.open_meteo import add_open_meteo_routes
from broker.demo.upstreams.weather_data import (
    WEATHER_TEXT,
    City,
    current_weather,
    daily_weather,
    find_city,
    known_city_names,
)

Units = Literal["metric", "imperial"]
Clock = Callable[[], datetime]


class CurrentUnits(BaseModel):
    """Units of the fields in `current`."""

    time: str = "iso8601"
    temperature_2m: str
    relative_humidity_2m: str = "%"
    wind_speed_10m: str
    weather_code: str = "wmo code"


class CurrentConditions(BaseModel):
    """Conditions at the start of the current hour (UTC)."""

    time: str = Field(description="Start of the hour in UTC, ISO 8601, e.g. 2025-01-15T14:00")
    temperature_2m: float = Field(description="Air temperature 2 m above ground")
    relative_humidity_2m: int = Field(ge=0, le=100, description="Relative humidity, percent")
    wind_speed_10m: float = Field(ge=0, description="Wind speed 10 m above ground")
    weather_code: int = Field(description="WMO weather interpretation code")
    weather_text: str = Field(description="The weather code in words, e.g. 'Partly cloudy'")


class Place(BaseModel):
    """Where the answer is for."""

    city: str
    country: str = Field(description="ISO 3166-1 alpha-2 country code")
    latitude: float
    longitude: float
    timezone: str = "GMT"
    units: Units


class CurrentWeatherResponse(Place):
    """Current conditions in a city."""

    current_units: CurrentUnits
    current: CurrentConditions


class DailyUnits(BaseModel):
    """Units of the fields in each `daily` entry."""

    date: str = "iso8601"
    temperature_2m_max: str
    temperature_2m_min: str
    precipitation_sum: str
    wind_speed_10m_max: str
    weather_code: str = "wmo code"


class DailyForecast(BaseModel):
    """One day of a forecast."""

    date: str = Field(description="ISO 8601 date, e.g. 2025-01-15")
    temperature_2m_max: float
    temperature_2m_min: float
    precipitation_sum: float = Field(ge=0)
    wind_speed_10m_max: float = Field(ge=0)
    weather_code: int = Field(description="WMO weather interpretation code")
    weather_text: str


class ForecastResponse(Place):
    """A daily forecast starting today."""

    daily_units: DailyUnits
    daily: list[DailyForecast]


class UnknownCityResponse(BaseModel):
    """The city is not in the service's table."""

    error: str = Field(examples=["unknown city 'Atlantis'"])
    known_cities: list[str]


class HealthResponse(BaseModel):
    """Liveness answer."""

    status: Literal["ok"] = "ok"
    service: str = "demo-weather"


class UnknownCityError(Exception):
    """Raised by a route for a city outside the table; answered as 404 `UnknownCityResponse`."""

    def __init__(self, city: str) -> None:
        super().__init__(city)
        self.city = city


def _temperature(celsius: float, units: Units) -> float:
    return celsius if units == "metric" else round(celsius * 9 / 5 + 32, 1)


def _speed(kmh: float, units: Units) -> float:
    return kmh if units == "metric" else round(kmh / 1.609344, 1)


def _precipitation(mm: float, units: Units) -> float:
    return mm if units == "metric" else round(mm / 25.4, 2)


def _unit_labels(units: Units) -> tuple[str, str, str]:
    """(temperature, speed, precipitation) unit labels."""
    return ("°C", "km/h", "mm") if units == "metric" else ("°F", "mp/h", "inch")


def _place(city: City, units: Units) -> dict[str, object]:
    return {
        "city": city.name,
        "country": city.country,
        "latitude": city.latitude,
        "longitude": city.longitude,
        "units": units,
    }


def _utc_now() -> datetime:
    return datetime.now(UTC)


CityParam = Annotated[
    str, Query(min_length=1, max_length=100, description="City name, e.g. Paris (case-insensitive)")
]
UnitsParam = Annotated[Units, Query(description="metric (°C, km/h, mm) or imperial (°F, mph, inch)")]
DaysParam = Annotated[int, Query(ge=1, le=7, description="Number of days, today first (1-7)")]


def create_weather_app(*, latency_seconds: float = 0.0, clock: Clock | None = None) -> FastAPI:
    """Build the demo weather service.

    `latency_seconds` delays every data call (not /healthz), for benchmarks; `clock` returns
    the current UTC time (default: the system clock), so tests can pin "now".
    """
    if latency_seconds < 0:
        raise ValueError("latency_seconds must be >= 0")
    now = clock or _utc_now

    app = FastAPI(
        title="Demo Weather",
        version="1.0.0",
        description="Deterministic current conditions and forecasts for ~20 world cities, "
        "shaped like Open-Meteo's answers.",
        docs_url=None,
        redoc_url=None,
    )

    @app.exception_handler(UnknownCityError)
    async def unknown_city(_: Request, exc: UnknownCityError) -> JSONResponse:
        body = UnknownCityResponse(error=f"unknown city {exc.city!r}", known_cities=known_city_names())
        return JSONResponse(status_code=404, content=body.model_dump())

    async def delay() -> None:
        if latency_seconds:
            await asyncio.sleep(latency_seconds)

    add_open_meteo_routes(app, now, delay)  # first: its /v1/forecast yields to `?city=` requests

    async def lookup(name: str) -> City:
        await delay()
        city = find_city(name)
        if city is None:
            raise UnknownCityError(name)
        return city

    not_found: dict[int | str, dict[str, Any]] = {
        404: {"model": UnknownCityResponse, "description": "Unknown city"}
    }

    @app.get(
        "/v1/current",
        operation_id="get_current_weather",
        summary="Current weather in a city",
        response_model=CurrentWeatherResponse,
        responses=not_found,
    )
    async def get_current(city: CityParam, units: UnitsParam = "metric") -> CurrentWeatherResponse:
        """Temperature, humidity, wind speed and weather code at the start of the current hour."""
        place = await lookup(city)
        conditions = current_weather(place, now())
        temperature, speed, _ = _unit_labels(units)
        return CurrentWeatherResponse.model_validate(
            {
                **_place(place, units),
                "current_units": CurrentUnits(temperature_2m=temperature, wind_speed_10m=speed),
                "current": CurrentConditions(
                    time=conditions.time.strftime("%Y-%m-%dT%H:%M"),
                    temperature_2m=_temperature(conditions.temperature_c, units),
                    relative_humidity_2m=conditions.relative_humidity,
                    wind_speed_10m=_speed(conditions.wind_speed_kmh, units),
                    weather_code=conditions.weather_code,
                    weather_text=WEATHER_TEXT[conditions.weather_code],
                ),
            }
        )

    @app.get(
        "/v1/forecast",
        operation_id="get_forecast",
        summary="Daily forecast for a city",
        response_model=ForecastResponse,
        responses=not_found,
    )
    async def get_forecast(
        city: CityParam, days: DaysParam = 3, units: UnitsParam = "metric"
    ) -> ForecastResponse:
        """Daily maximum/minimum temperature, precipitation, wind and weather code, today first."""
        place = await lookup(city)
        today = now().date()
        temperature, speed, precipitation = _unit_labels(units)
        daily = []
        for offset in range(days):
            day = daily_weather(place, today + timedelta(days=offset))
            daily.append(
                DailyForecast(
                    date=day.day.isoformat(),
                    temperature_2m_max=_temperature(day.temperature_max_c, units),
                    temperature_2m_min=_temperature(day.temperature_min_c, units),
                    precipitation_sum=_precipitation(day.precipitation_mm, units),
                    wind_speed_10m_max=_speed(day.wind_speed_max_kmh, units),
                    weather_code=day.weather_code,
                    weather_text=WEATHER_TEXT[day.weather_code],
                )
            )
        units_block = DailyUnits(
            temperature_2m_max=temperature,
            temperature_2m_min=temperature,
            precipitation_sum=precipitation,
            wind_speed_10m_max=speed,
        )
        return ForecastResponse.model_validate(
            {**_place(place, units), "daily_units": units_block, "daily": daily}
        )

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> HealthResponse:
        return HealthResponse()

    return app
