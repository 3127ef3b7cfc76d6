"""The demo geocoder's place table, answered the way Open-Meteo's geocoding API answers.

Every city of the weather table (same coordinates, so a place found here gets the same
weather as the city-based routes) plus a few namesakes elsewhere (Paris, Texas; London,
Ontario), so a search for "Paris" has to be disambiguated as with the real service.
Ids are GeoNames ids, as Open-Meteo's are.
"""

from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass

from broker.demo.upstreams.weather_data import CITIES


@dataclass(frozen=True, slots=True)
class Place:
    """One geocoding result."""

    id: int
    name: str
    latitude: float
    longitude: float
    elevation: float
    feature_code: str
    country_code: str
    country: str
    admin1: str | None
    timezone: str
    population: int

    def as_result(self) -> dict[str, object]:
        """The place as a `results` entry (no `admin1` key when it has none, as Open-Meteo does)."""
        result: dict[str, object] = {
            "id": self.id,
            "name": self.name,
            "latitude": self.latitude,
            "longitude": self.longitude,
            "elevation": float(self.elevation),
            "feature_code": self.feature_code,
            "country_code": self.country_code,
            "timezone": self.timezone,
            "population": self.population,
            "country": self.country,
        }
        if self.admin1 is not None:
            result["admin1"] = self.admin1
        return result


# name -> id, elevation, feature code, country, admin1, timezone, population
_CITY_DETAILS: dict[str, tuple[int, float, str, str, str | None, str, int]] = {
    "Amsterdam": (2759794, 13, "PPLC", "Netherlands", "North Holland", "Europe/Amsterdam", 741636),
    "Berlin": (2950159, 74, "PPLC", "Germany", "State of Berlin", "Europe/Berlin", 3426354),
    "Beijing": (1816670, 49, "PPLC", "China", "Beijing", "Asia/Shanghai", 18960744),
    "Buenos Aires": (3435910, 25, "PPLC", "Argentina", "Buenos Aires F.D.",
                     "America/Argentina/Buenos_Aires", 13076300),
    "Cairo": (360630, 23, "PPLC", "Egypt", "Cairo", "Africa/Cairo", 9606916),
    "Cape Town": (3369157, 25, "PPLA", "South Africa", "Western Cape", "Africa/Johannesburg", 3433441),
    "Dubai": (292223, 5, "PPLA", "United Arab Emirates", "Dubai", "Asia/Dubai", 3790000),
    "London": (2643743, 25, "PPLC", "United Kingdom", "England", "Europe/London", 8961989),
    "Madrid": (3117735, 667, "PPLC", "Spain", "Madrid", "Europe/Madrid", 3255944),
    "Mexico City": (3530597, 2240, "PPLC", "Mexico", "Mexico City", "America/Mexico_City", 12294193),
    "Moscow": (524901, 144, "PPLC", "Russia", "Moscow", "Europe/Moscow", 10381222),
    "Mumbai": (1275339, 14, "PPLA", "India", "Maharashtra", "Asia/Kolkata", 12691836),
    "Nairobi": (184745, 1661, "PPLC", "Kenya", "Nairobi Area", "Africa/Nairobi", 2750547),
    "New York": (5128581, 10, "PPL", "United States", "New York", "America/New_York", 8804190),
    "Paris": (2988507, 42, "PPLC", "France", "Île-de-France", "Europe/Paris", 2138551),
    "Reykjavik": (3413829, 22, "PPLC", "Iceland", "Capital Region", "Atlantic/Reykjavik", 118918),
    "Rome": (3169070, 20, "PPLC", "Italy", "Lazio", "Europe/Rome", 2318895),
    "São Paulo": (3448439, 769, "PPLA", "Brazil", "São Paulo", "America/Sao_Paulo", 10021295),
    "Singapore": (1880252, 15, "PPLC", "Singapore", None, "Asia/Singapore", 3547809),
    "Stockholm": (2673730, 28, "PPLC", "Sweden", "Stockholm", "Europe/Stockholm", 1515017),
    "Sydney": (2147714, 58, "PPLA", "Australia", "New South Wales", "Australia/Sydney", 4627345),
    "Tokyo": (1850147, 44, "PPLC", "Japan", "Tokyo", "Asia/Tokyo", 8336599),
    "Toronto": (6167865, 175, "PPLA", "Canada", "Ontario", "America/Toronto", 2600000),
}  # fmt: skip

_NAMESAKES: tuple[Place, ...] = (
    Place(4717560, "Paris", 33.66094, -95.55551, 183, "PPLA2", "US", "United States", "Texas",
          "America/Chicago", 24782),
    Place(6058560, "London", 42.98339, -81.23304, 251, "PPL", "CA", "Canada", "Ontario",
          "America/Toronto", 346765),
    Place(4219762, "Rome", 34.25704, -85.16467, 186, "PPLA2", "US", "United States", "Georgia",
          "America/New_York", 36303),
    Place(6354908, "Sydney", 46.1351, -60.1831, 19, "PPL", "CA", "Canada", "Nova Scotia",
          "America/Glace_Bay", 29904),
)  # fmt: skip


def _city_places() -> tuple[Place, ...]:
    places = []
    for city in CITIES:
        place_id, elevation, code, country, admin1, timezone, population = _CITY_DETAILS[city.name]
        places.append(
            Place(place_id, city.name, city.latitude, city.longitude, elevation, code, city.country,
                  country, admin1, timezone, population)
        )  # fmt: skip
    return tuple(places)


PLACES: tuple[Place, ...] = _city_places() + _NAMESAKES


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.strip())
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def search_places(name: str, count: int, country_code: str | None = None) -> list[Place]:
    """Places matching `name`, most populous first, as Open-Meteo matches them: fewer than two
    characters find nothing, two must match a whole name, three or more match the start of the
    name or of one of its words (case- and accent-insensitive)."""
    query = _fold(name)
    if len(query) < 2:
        return []

    def matches(place: Place) -> bool:
        folded = _fold(place.name)
        if len(query) == 2:
            return folded == query
        return folded.startswith(query) or any(word.startswith(query) for word in folded.split())

    found = [
        place
        for place in PLACES
        if matches(place) and (country_code is None or place.country_code == country_code.upper())
    ]
    found.sort(key=lambda place: (-place.population, place.id))
    return found[:count]


def nearest_place(latitude: float, longitude: float, within_km: float = 25.0) -> Place | None:
    """The table's place nearest to the coordinates, if one is within `within_km`."""

    def distance(place: Place) -> float:
        lat1, lat2 = math.radians(latitude), math.radians(place.latitude)
        dlat, dlon = lat2 - lat1, math.radians(place.longitude - longitude)
        h = math.sin(dlat / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(dlon / 2) ** 2
        return 2 * 6371.0 * math.asin(math.sqrt(min(1.0, h)))

    best = min(PLACES, key=distance)
    return best if distance(best) <= within_km else None
