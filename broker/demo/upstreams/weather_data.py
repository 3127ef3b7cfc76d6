"""The demo weather service's city table and its deterministic, hash-based weather model.

Nothing here is random: every value is a function of (city, date[, hour]), so repeated calls
agree and tests can assert exact numbers for a pinned clock.
"""

from __future__ import annotations

import hashlib
import math
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime


@dataclass(frozen=True, slots=True)
class City:
    """A known city with a crude climate: annual mean temperature and seasonal swing (°C)."""

    name: str
    country: str
    latitude: float
    longitude: float
    mean_c: float
    swing_c: float


CITIES: tuple[City, ...] = (
    City("Amsterdam", "NL", 52.3676, 4.9041, 10.5, 7.0),
    City("Berlin", "DE", 52.5200, 13.4050, 10.0, 9.5),
    City("Beijing", "CN", 39.9042, 116.4074, 12.5, 15.0),
    City("Buenos Aires", "AR", -34.6037, -58.3816, 18.0, 6.0),
    City("Cairo", "EG", 30.0444, 31.2357, 22.5, 7.0),
    City("Cape Town", "ZA", -33.9249, 18.4241, 17.0, 4.0),
    City("Dubai", "AE", 25.2048, 55.2708, 28.0, 8.0),
    City("London", "GB", 51.5072, -0.1276, 11.5, 7.0),
    City("Madrid", "ES", 40.4168, -3.7038, 15.0, 10.0),
    City("Mexico City", "MX", 19.4326, -99.1332, 16.5, 3.0),
    City("Moscow", "RU", 55.7558, 37.6173, 6.0, 13.0),
    City("Mumbai", "IN", 19.0760, 72.8777, 27.5, 2.5),
    City("Nairobi", "KE", -1.2921, 36.8219, 18.5, 1.5),
    City("New York", "US", 40.7128, -74.0060, 13.0, 12.0),
    City("Paris", "FR", 48.8566, 2.3522, 12.5, 8.0),
    City("Reykjavik", "IS", 64.1466, -21.9426, 5.0, 5.5),
    City("Rome", "IT", 41.9028, 12.4964, 15.5, 8.5),
    City("São Paulo", "BR", -23.5505, -46.6333, 20.0, 3.5),
    City("Singapore", "SG", 1.3521, 103.8198, 27.5, 0.8),
    City("Stockholm", "SE", 59.3293, 18.0686, 7.5, 10.0),
    City("Sydney", "AU", -33.8688, 151.2093, 18.0, 5.0),
    City("Tokyo", "JP", 35.6762, 139.6503, 16.0, 10.0),
    City("Toronto", "CA", 43.6532, -79.3832, 9.0, 13.0),
)

#: WMO weather interpretation codes (the subset the model produces), as Open-Meteo uses them.
WEATHER_TEXT: dict[int, str] = {
    0: "Clear sky",
    1: "Mainly clear",
    2: "Partly cloudy",
    3: "Overcast",
    45: "Fog",
    51: "Light drizzle",
    61: "Slight rain",
    63: "Moderate rain",
    71: "Slight snow fall",
    73: "Moderate snow fall",
    80: "Slight rain showers",
    95: "Thunderstorm",
}

_DRY_CODES = (0, 1, 2, 3, 45)
_WET_CODES = (51, 61, 63, 80, 95)
_SNOW_CODES = (71, 73)


def _fold(text: str) -> str:
    """Case- and accent-insensitive key: 'SAO paulo' and 'São Paulo' fold alike."""
    decomposed = unicodedata.normalize("NFKD", text.strip())
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


_BY_KEY: dict[str, City] = {_fold(city.name): city for city in CITIES}


def find_city(name: str) -> City | None:
    """The known city called `name` (case- and accent-insensitive), or None."""
    return _BY_KEY.get(_fold(name))


def known_city_names() -> list[str]:
    """Names of all known cities, sorted."""
    return sorted(city.name for city in CITIES)


def _unit(city: City, day: date, field: str) -> float:
    """A stable pseudo-random number in [0, 1) for (city, day, field)."""
    digest = hashlib.sha256(f"{city.name}|{day.isoformat()}|{field}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


@dataclass(frozen=True, slots=True)
class DailyWeather:
    """One day's weather in metric units (°C, mm, km/h)."""

    day: date
    temperature_max_c: float
    temperature_min_c: float
    precipitation_mm: float
    wind_speed_max_kmh: float
    weather_code: int


@dataclass(frozen=True, slots=True)
class CurrentWeather:
    """Conditions at one hour, metric units."""

    time: datetime
    temperature_c: float
    relative_humidity: int
    wind_speed_kmh: float
    weather_code: int


def daily_weather(city: City, day: date) -> DailyWeather:
    """The model's weather for `city` on `day`: a seasonal curve plus hash-based day-to-day noise."""
    peak_day = 196 if city.latitude >= 0 else 15  # mid-July north, mid-January south
    season = math.cos(2 * math.pi * (day.timetuple().tm_yday - peak_day) / 365.25)
    mean = city.mean_c + city.swing_c * season + (_unit(city, day, "mean") - 0.5) * 6
    t_max = mean + 3 + _unit(city, day, "max") * 4
    t_min = mean - 3 - _unit(city, day, "min") * 3

    sky = _unit(city, day, "sky")
    pick = _unit(city, day, "code")
    precipitation = 0.0
    if sky < 0.65:
        code = _DRY_CODES[int(pick * len(_DRY_CODES))]
    else:
        if t_max <= 1:
            code = _SNOW_CODES[int(pick * len(_SNOW_CODES))]
        else:
            wet = _WET_CODES if t_max > 18 else _WET_CODES[:-1]
            code = wet[int(pick * len(wet))]
        precipitation = 0.2 + (sky - 0.65) / 0.35 * 18
    wind = 5 + _unit(city, day, "wind") * 30
    return DailyWeather(
        day=day,
        temperature_max_c=round(t_max, 1),
        temperature_min_c=round(t_min, 1),
        precipitation_mm=round(precipitation, 1),
        wind_speed_max_kmh=round(wind, 1),
        weather_code=code,
    )


def current_weather(city: City, now: datetime) -> CurrentWeather:
    """Conditions at the start of `now`'s hour (UTC): the day's range along a diurnal curve."""
    hour = now.replace(minute=0, second=0, microsecond=0)
    day = daily_weather(city, hour.date())
    solar_hour = (hour.hour + city.longitude / 15) % 24  # warmest around 15:00 local solar time
    warmth = (1 + math.cos(2 * math.pi * (solar_hour - 15) / 24)) / 2
    temperature = day.temperature_min_c + (day.temperature_max_c - day.temperature_min_c) * warmth
    wind = day.wind_speed_max_kmh * (0.4 + 0.5 * _unit(city, hour.date(), f"wind@{hour.hour}"))
    humidity = 40 + int(_unit(city, hour.date(), f"humidity@{hour.hour}") * 50)
    return CurrentWeather(
        time=hour,
        temperature_c=round(temperature, 1),
        relative_humidity=humidity,
        wind_speed_kmh=round(wind, 1),
        weather_code=day.weather_code,
    )


def city_at(latitude: float, longitude: float) -> City:
    """The known city at these coordinates (within 0.05°, so rounded coordinates still find it),
    else a made-up place whose climate follows its latitude."""
    for city in CITIES:
        if abs(city.latitude - latitude) <= 0.05 and abs(city.longitude - longitude) <= 0.05:
            return city
    polar = min(abs(latitude), 90.0) / 90
    return City(
        name=f"{latitude:.3f},{longitude:.3f}",
        country="",
        latitude=latitude,
        longitude=longitude,
        mean_c=round(28 - 38 * polar, 1),
        swing_c=round(1 + 22 * polar, 1),
    )
