"""Open-Meteo's own API on the demo weather service: what the `open-meteo` preset calls.

- `GET /v1/forecast?latitude=&longitude=&current=a,b&daily=c,d&forecast_days=&timezone=`
  with `temperature_unit`, `wind_speed_unit`, `precipitation_unit`: the forecast API's
  answer (`current_units`/`current`, `daily_units`/`daily` as column arrays). A request
  with `city=` goes to the demo's own city-based route instead.
- `GET /v1/search?name=&count=&language=&format=json&countryCode=`: the geocoding API's
  answer (`results`, absent when nothing matches), from broker/demo/upstreams/places.py.

Bad parameters are answered as Open-Meteo does: 400 `{"error": true, "reason": ...}`. The
routes are documented at open-meteo.com, not in this app's /openapi.json (which describes
the demo's own routes and is imported as tools by the demo). Values come from the same
deterministic model as the city routes; unknown coordinates get a climate by latitude.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta, tzinfo
from datetime import timezone as fixed_zone
from typing import Annotated, Any, Literal
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import FastAPI, Query, Request
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from starlette.routing import Match
from starlette.types import Scope

from broker.demo.upstreams.places import nearest_place, search_places
from broker.demo.upstreams.weather_data import City, city_at, current_weather, daily_weather

TemperatureUnit = Literal["celsius", "fahrenheit"]
WindSpeedUnit = Literal["kmh", "ms", "mph", "kn"]
PrecipitationUnit = Literal["mm", "inch"]

CURRENT_VARIABLES = (
    "temperature_2m",
    "relative_humidity_2m",
    "apparent_temperature",
    "is_day",
    "precipitation",
    "weather_code",
    "wind_speed_10m",
)
DAILY_VARIABLES = (
    "weather_code",
    "temperature_2m_max",
    "temperature_2m_min",
    "precipitation_sum",
    "precipitation_probability_max",
    "wind_speed_10m_max",
)
_WIND = {"kmh": (1.0, "km/h"), "ms": (3.6, "m/s"), "mph": (1.609344, "mp/h"), "kn": (1.852, "kn")}
_DRY_CODES = frozenset({0, 1, 2, 3, 45})
_GMT: tzinfo = fixed_zone(timedelta(0), "GMT")


class OpenMeteoError(Exception):
    """Answered as Open-Meteo's 400 `{"error": true, "reason": ...}`."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class OpenMeteoRoute(APIRoute):
    """A route whose bad requests are answered in Open-Meteo's error shape."""


class CoordinatesRoute(OpenMeteoRoute):
    """Takes /v1/forecast unless the query names a `city` (the demo's own route takes those)."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        query = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        if any(name == "city" for name, _ in query):
            return Match.NONE, {}
        return super().matches(scope)


class _Units:
    def __init__(self, temperature: TemperatureUnit, wind: WindSpeedUnit, precipitation: PrecipitationUnit):
        self.fahrenheit = temperature == "fahrenheit"
        self.wind_factor, wind_label = _WIND[wind]
        self.inch = precipitation == "inch"
        self.labels = {
            "temperature": "°F" if self.fahrenheit else "°C",
            "wind": wind_label,
            "precipitation": "inch" if self.inch else "mm",
        }

    def temperature(self, celsius: float) -> float:
        return (round(celsius * 9 / 5 + 32, 1) if self.fahrenheit else celsius) + 0.0  # no -0.0

    def wind(self, kmh: float) -> float:
        return round(kmh / self.wind_factor, 1)

    def precipitation(self, mm: float) -> float:
        return round(mm / 25.4, 3) if self.inch else mm

    def label(self, variable: str) -> str:
        if variable.startswith(("temperature", "apparent")):
            return self.labels["temperature"]
        if variable.startswith("wind"):
            return self.labels["wind"]
        if variable.startswith("precipitation_probability") or variable.startswith("relative_humidity"):
            return "%"
        if variable.startswith("precipitation"):
            return self.labels["precipitation"]
        return {"weather_code": "wmo code", "is_day": ""}[variable]


def _variables(values: list[str] | None, allowed: tuple[str, ...], key: str) -> list[str]:
    names = [name.strip() for value in values or [] for name in value.split(",") if name.strip()]
    for name in names:
        if name not in allowed:
            raise OpenMeteoError(
                f"Cannot initialize ForecastVariable from invalid String value {name} for key {key}"
            )
    return list(dict.fromkeys(names))


def _zone(name: str, city: City) -> tzinfo:
    if name.upper() in ("GMT", "UTC"):
        return _GMT
    if name == "auto":
        place = nearest_place(city.latitude, city.longitude)
        name = place.timezone if place is not None else "GMT"
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        if name == "GMT":
            return _GMT
        raise OpenMeteoError(f"Invalid timezone '{name}'") from None


def _current(city: City, now: datetime, zone: tzinfo, units: _Units, names: list[str]) -> dict[str, Any]:
    weather = current_weather(city, now)
    day = daily_weather(city, weather.time.date())
    local = now.astimezone(zone)
    solar_hour = (now.hour + now.minute / 60 + city.longitude / 15) % 24
    wet = weather.weather_code not in _DRY_CODES
    feels = weather.temperature_c - 0.08 * weather.wind_speed_kmh + 0.04 * (weather.relative_humidity - 50)
    values: dict[str, Any] = {
        "temperature_2m": units.temperature(weather.temperature_c),
        "relative_humidity_2m": weather.relative_humidity,
        "apparent_temperature": units.temperature(round(feels, 1)),
        "is_day": int(6 <= solar_hour < 18),
        "precipitation": units.precipitation(round(day.precipitation_mm / 12, 1) if wet else 0.0),
        "weather_code": weather.weather_code,
        "wind_speed_10m": units.wind(weather.wind_speed_kmh),
    }
    quarter = local.replace(minute=local.minute - local.minute % 15, second=0, microsecond=0)
    return {"time": quarter.strftime("%Y-%m-%dT%H:%M"), "interval": 900} | {n: values[n] for n in names}


def _daily(city: City, today: datetime, days: int, units: _Units, names: list[str]) -> dict[str, list[Any]]:
    columns: dict[str, list[Any]] = {"time": []} | {name: [] for name in names}
    for offset in range(days):
        day = daily_weather(city, today.date() + timedelta(days=offset))
        if day.precipitation_mm:
            probability = min(100, int(35 + day.precipitation_mm * 4))
        else:
            probability = {0: 0, 1: 3, 2: 8, 3: 15}.get(day.weather_code, 10)
        values: dict[str, Any] = {
            "weather_code": day.weather_code,
            "temperature_2m_max": units.temperature(day.temperature_max_c),
            "temperature_2m_min": units.temperature(day.temperature_min_c),
            "precipitation_sum": units.precipitation(day.precipitation_mm),
            "precipitation_probability_max": probability,
            "wind_speed_10m_max": units.wind(day.wind_speed_max_kmh),
        }
        columns["time"].append(day.day.isoformat())
        for name in names:
            columns[name].append(values[name])
    return columns


def add_open_meteo_routes(
    app: FastAPI, now: Callable[[], datetime], delay: Callable[[], Awaitable[None]]
) -> None:
    """Add the forecast and geocoding routes (before the demo's own /v1/forecast) and their errors."""

    @app.exception_handler(OpenMeteoError)
    async def open_meteo_error(_: Request, exc: OpenMeteoError) -> JSONResponse:
        return JSONResponse(status_code=400, content={"error": True, "reason": exc.reason})

    @app.exception_handler(RequestValidationError)
    async def bad_parameter(request: Request, exc: RequestValidationError) -> Response:
        if not isinstance(request.scope.get("route"), OpenMeteoRoute):
            return await request_validation_exception_handler(request, exc)
        first = exc.errors()[0]
        name = first["loc"][-1] if first.get("loc") else "request"
        return JSONResponse(
            status_code=400, content={"error": True, "reason": f"Parameter '{name}': {first['msg']}"}
        )

    async def forecast(
        latitude: Annotated[float, Query(ge=-90, le=90)],
        longitude: Annotated[float, Query(ge=-180, le=180)],
        current: Annotated[list[str] | None, Query()] = None,
        daily: Annotated[list[str] | None, Query()] = None,
        forecast_days: Annotated[int, Query(ge=0, le=16)] = 7,
        timezone: Annotated[str, Query(max_length=64)] = "GMT",
        temperature_unit: TemperatureUnit = "celsius",
        wind_speed_unit: WindSpeedUnit = "kmh",
        precipitation_unit: PrecipitationUnit = "mm",
    ) -> dict[str, Any]:
        current_names = _variables(current, CURRENT_VARIABLES, "current")
        daily_names = _variables(daily, DAILY_VARIABLES, "daily")
        await delay()
        city = city_at(latitude, longitude)
        zone = _zone(timezone, city)
        moment = now().astimezone(UTC)
        local = moment.astimezone(zone)
        units = _Units(temperature_unit, wind_speed_unit, precipitation_unit)
        place = nearest_place(latitude, longitude)
        offset = local.utcoffset() or timedelta(0)
        body: dict[str, Any] = {
            "latitude": round(latitude, 4),
            "longitude": round(longitude, 4),
            "generationtime_ms": 0.05,
            "utc_offset_seconds": int(offset.total_seconds()),
            "timezone": getattr(zone, "key", "GMT"),
            "timezone_abbreviation": local.tzname() or "GMT",
            "elevation": float(place.elevation) if place is not None else 0.0,
        }
        if current_names:
            body["current_units"] = {"time": "iso8601", "interval": "seconds"} | {
                name: units.label(name) for name in current_names
            }
            body["current"] = _current(city, moment, zone, units, current_names)
        if daily_names:
            body["daily_units"] = {"time": "iso8601"} | {name: units.label(name) for name in daily_names}
            body["daily"] = _daily(city, local, forecast_days, units, daily_names)
        return body

    async def search(
        name: Annotated[str, Query(max_length=200)],
        count: Annotated[int, Query(ge=1, le=100)] = 10,
        language: Annotated[str, Query(pattern=r"^[a-zA-Z]{2}$")] = "en",
        format: Literal["json"] = "json",
        countryCode: Annotated[str | None, Query(pattern=r"^[A-Za-z]{2}$")] = None,
    ) -> dict[str, Any]:
        await delay()
        results = [place.as_result() for place in search_places(name, count, countryCode)]
        return ({"results": results} if results else {}) | {"generationtime_ms": 0.05}

    for path, endpoint, route_class in (
        ("/v1/forecast", forecast, CoordinatesRoute),
        ("/v1/search", search, OpenMeteoRoute),
    ):
        app.router.add_api_route(
            path,
            endpoint,
            methods=["GET"],
            include_in_schema=False,
            response_model=None,
            route_class_override=route_class,
        )
