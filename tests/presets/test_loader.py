"""Every shipped preset is a valid connector definition; options are applied or refused clearly;
the requests its tools make are the real APIs' documented requests."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest

from connectors.base import CallContext
from connectors.http.connector import HttpConnector, HttpConnectorConfig
from connectors.presets import PresetError, PresetFile, list_presets, load_preset, preset_names, read_preset
from connectors.registry import ConnectorConfigAdapter, build


@pytest.mark.parametrize("name", preset_names())
async def test_every_preset_validates_and_builds_offline(name: str) -> None:
    preset = read_preset(name)
    assert isinstance(preset, PresetFile) and preset.documentation.startswith("https://")
    for config in load_preset(name):
        connector = build(ConnectorConfigAdapter.validate_python(config))
        try:
            specs = connector.tools()
            assert specs
            for spec in specs:
                assert spec.description and spec.input_schema.get("additionalProperties") is False
                assert spec.annotations and spec.annotations["readOnlyHint"] is True
        finally:
            await connector.aclose()


def test_the_listing() -> None:
    presets = {p.name: p for p in list_presets()}
    assert sorted(presets) == ["hubspot", "open-meteo"]
    assert presets["open-meteo"].connectors == ("weather", "weather-geo")
    assert presets["open-meteo"].tools == ("weather.current", "weather.forecast", "weather-geo.find_city")
    assert presets["open-meteo"].secrets == ()
    assert presets["hubspot"].secrets == ("hubspot-token",)
    assert set(presets["hubspot"].tools) >= {"crm.find_contact", "crm.top_customers", "crm.recent_deals"}
    assert "oauth2_client_credentials" in presets["hubspot"].notes


def test_defaults_are_the_real_hosts() -> None:
    weather, geo = load_preset("open-meteo")
    assert (weather["base_url"], geo["base_url"]) == (
        "https://api.open-meteo.com",
        "https://geocoding-api.open-meteo.com",
    )
    (crm,) = load_preset("hubspot")
    assert crm["base_url"] == "https://api.hubapi.com"
    assert crm["auth"] == {"type": "bearer", "secret": "hubspot-token"}
    assert "allow_private_network" not in crm


def test_options_are_applied() -> None:
    weather, geo = load_preset(
        "open-meteo",
        name_override="meteo",
        base_url="http://127.0.0.1:8001",
        base_urls={"meteo-geo": "http://127.0.0.1:8002"},
        allow_private_network=True,
    )
    assert (weather["name"], weather["base_url"]) == ("meteo", "http://127.0.0.1:8001")
    assert (geo["name"], geo["base_url"]) == ("meteo-geo", "http://127.0.0.1:8002")
    assert weather["allow_private_network"] is geo["allow_private_network"] is True
    only_geo = load_preset("open-meteo", base_urls={"weather-geo": "http://10.0.0.5"})
    assert [c["base_url"] for c in only_geo] == ["https://api.open-meteo.com", "http://10.0.0.5"]
    (crm,) = load_preset("hubspot", name_override="sales", secret="hubspot-prod")
    assert (crm["name"], crm["auth"]["secret"]) == ("sales", "hubspot-prod")


@pytest.mark.parametrize(
    ("name", "options", "message"),
    [
        ("salesforce", {}, "unknown preset 'salesforce'; available: hubspot, open-meteo"),
        ("open-meteo", {"name_override": "Weather"}, "'Weather' is not a valid connector name"),
        ("open-meteo", {"secret": "key"}, "preset 'open-meteo' needs no secret"),
        ("hubspot", {"secret": "bad name"}, "'bad name' is not a valid secret name"),
        (
            "open-meteo",
            {"base_url": "ftp://mirror"},
            "base_url 'ftp://mirror': must be an http:// or https://",
        ),
        ("hubspot", {"base_url": "http://h/?x=1"}, "must not contain a query string"),
        (
            "open-meteo",
            {"base_urls": {"geo": "http://h"}},
            "no connector 'geo' to set a base URL for; its connectors: weather, weather-geo",
        ),
    ],
)
def test_bad_options_are_refused_with_the_reason(name: str, options: dict[str, Any], message: str) -> None:
    with pytest.raises(PresetError) as caught:
        load_preset(name, **options)
    assert message in caught.value.message


def test_a_preset_file_names_extra_connectors_after_the_first() -> None:
    base = read_preset("open-meteo").model_dump()
    base["connectors"][1] = {**base["connectors"][1], "name": "geocoding"}
    with pytest.raises(ValueError, match="must be named 'weather-<suffix>'"):
        PresetFile.model_validate(base)


class Recorder:
    """The network boundary: records each request and answers `{}`."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(200, json={})

    def body(self, index: int = -1) -> Any:
        return json.loads(self.requests[index].content)

    def query(self, index: int = -1) -> dict[str, str]:
        return dict(parse_qsl(self.requests[index].url.query.decode()))


async def calls(config: dict[str, Any], *steps: tuple[str, dict[str, Any]]) -> Recorder:
    recorder = Recorder()
    connector = HttpConnector(
        HttpConnectorConfig.model_validate(config), transport=httpx.MockTransport(recorder)
    )
    context = CallContext(agent="a", secrets={"hubspot-token": "pat-token"})
    async with connector:
        for tool, arguments in steps:
            await connector.call(tool, arguments, context)
    return recorder


async def test_hubspot_tools_send_hubspots_documented_requests() -> None:
    (crm,) = load_preset("hubspot")
    sent = await calls(
        crm,
        ("top_customers", {"limit": 3}),
        ("recent_deals", {}),
        ("recent_deals", {"stage": "closedwon", "limit": 5, "after": "5"}),
        ("find_contact", {"query": "maria"}),
        ("get_contact", {"contact_id": "1001"}),
    )
    top, recent, _, contact, read = sent.requests
    assert (top.method, str(top.url)) == ("POST", "https://api.hubapi.com/crm/v3/objects/companies/search")
    assert top.headers["authorization"] == "Bearer pat-token"
    assert sent.body(0) == {
        "filterGroups": [{"filters": [{"propertyName": "annualrevenue", "operator": "HAS_PROPERTY"}]}],
        "sorts": [{"propertyName": "annualrevenue", "direction": "DESCENDING"}],
        "properties": ["name", "domain", "industry", "annualrevenue", "city", "country"],
        "limit": 3,
    }
    assert recent.url.path == "/crm/v3/objects/deals/search"
    assert sent.body(1) == {
        "sorts": [{"propertyName": "closedate", "direction": "DESCENDING"}],
        "properties": ["dealname", "amount", "deal_currency_code", "dealstage", "closedate", "pipeline"],
    }
    assert sent.body(2)["filterGroups"] == [
        {"filters": [{"propertyName": "dealstage", "operator": "EQ", "value": "closedwon"}]}
    ]
    assert (sent.body(2)["limit"], sent.body(2)["after"]) == (5, "5")
    assert contact.url.path == "/crm/v3/objects/contacts/search"
    assert sent.body(3)["query"] == "maria" and "firstname" in sent.body(3)["properties"]
    assert (read.method, read.url.path) == ("GET", "/crm/v3/objects/contacts/1001")
    assert sent.query(4)["properties"].split(",")[:3] == ["firstname", "lastname", "email"]


async def test_open_meteo_tools_send_open_meteos_documented_requests() -> None:
    weather, geo = load_preset("open-meteo")
    sent = await calls(
        weather,
        ("current", {"latitude": 48.85, "longitude": 2.35, "temperature_unit": "fahrenheit"}),
        ("forecast", {"latitude": 48.85, "longitude": 2.35, "forecast_days": 3}),
    )
    assert str(sent.requests[0].url).startswith("https://api.open-meteo.com/v1/forecast?")
    assert sent.query(0) == {
        "current": "temperature_2m,relative_humidity_2m,apparent_temperature,precipitation,weather_code,"
        "wind_speed_10m",
        "timezone": "auto",
        "latitude": "48.85",
        "longitude": "2.35",
        "temperature_unit": "fahrenheit",
    }
    assert sent.query(1)["daily"].startswith("weather_code,temperature_2m_max,temperature_2m_min")
    assert sent.query(1)["forecast_days"] == "3"
    found = await calls(geo, ("find_city", {"name": "Paris", "count": 5}))
    assert str(found.requests[0].url).startswith("https://geocoding-api.open-meteo.com/v1/search?")
    assert found.query() == {"format": "json", "name": "Paris", "count": "5"}
