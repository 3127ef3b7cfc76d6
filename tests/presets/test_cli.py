"""`broker connectors presets` and `broker connectors add-preset`, in-process against the real gateway."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

import pytest
import yaml

from broker.cli.main import main
from tests.conftest import RunningGateway
from tests.presets.conftest import HUBSPOT_TOKEN


@dataclass
class Result:
    code: int
    out: str
    err: str


Broker = Callable[..., Result]


@pytest.fixture
def broker(
    keyed_gateway: RunningGateway, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Broker:
    monkeypatch.setenv("BROKER_ADMIN_URL", keyed_gateway.url)
    monkeypatch.setenv("BROKER_ADMIN_TOKEN", keyed_gateway.admin_token)

    def run(*argv: str) -> Result:
        capsys.readouterr()
        code = main(list(argv))
        out, err = capsys.readouterr()
        return Result(code, out, err)

    return run


def test_presets_are_listed_and_shown(broker: Broker) -> None:
    listed = broker("connectors", "presets")
    assert listed.code == 0
    assert "open-meteo" in listed.out and "weather, weather-geo" in listed.out
    assert "hubspot" in listed.out and "hubspot-token" in listed.out
    as_json = json.loads(broker("connectors", "presets", "--json").out)
    assert [p["name"] for p in as_json] == ["hubspot", "open-meteo"]
    shown = broker("connectors", "presets", "hubspot")
    assert "crm.top_customers" in shown.out and "oauth2_client_credentials" in shown.out
    unknown = broker("connectors", "presets", "salesforce")
    assert unknown.code == 2 and "unknown preset 'salesforce'; available: hubspot, open-meteo" in unknown.err


def test_add_open_meteo_against_a_local_server(broker: Broker, weather_url: str) -> None:
    added = broker(
        "connectors", "add-preset", "open-meteo", "--base-url", weather_url, "--allow-private-network"
    )
    assert added.code == 0, added.err
    assert "created connector weather (2 tools)" in added.out
    assert "created connector weather-geo (1 tool)" in added.out
    assert "  weather-geo.find_city" in added.out

    again = broker(
        "connectors", "add-preset", "open-meteo", "--base-url", weather_url, "--allow-private-network"
    )
    assert again.code == 1 and "connector 'weather' already exists" in again.err and "--name" in again.err
    replaced = broker(
        "connectors",
        "add-preset",
        "open-meteo",
        "--base-url",
        weather_url,
        "--allow-private-network",
        "--replace",
    )
    assert replaced.code == 0 and "connector weather " in replaced.out
    other = broker(
        "connectors", "add-preset", "open-meteo", "--name", "meteo", "--base-url", weather_url,
        "--allow-private-network", "--json",
    )  # fmt: skip
    assert [r["name"] for r in json.loads(other.out)] == ["meteo", "meteo-geo"]
    assert "meteo-geo.find_city" in broker("connectors", "tools", "meteo-geo").out


def test_loopback_needs_the_explicit_flag(broker: Broker, weather_url: str) -> None:
    refused = broker("connectors", "add-preset", "open-meteo", "--base-url", weather_url)
    assert refused.code == 1
    assert "127.0.0.1" in refused.err and "allow_private_network" in refused.err
    assert "no connectors" in broker("connectors", "list").out


def test_hubspot_needs_its_secret_first(
    broker: Broker, keyed_gateway: RunningGateway, hubspot_url: str
) -> None:
    args = ("connectors", "add-preset", "hubspot", "--name", "sales", "--secret", "hs-prod", "--base-url",
            hubspot_url, "--allow-private-network")  # fmt: skip
    missing = broker(*args)
    assert missing.code == 1
    assert "secret 'hs-prod' is not in the secret store" in missing.err
    assert "broker secrets add hs-prod" in missing.err
    stored = keyed_gateway.admin.put("/admin/secrets/hs-prod", json={"value": HUBSPOT_TOKEN, "kind": "token"})
    assert stored.status_code == 201
    added = broker(*args)
    assert added.code == 0, added.err
    assert "created connector sales (6 tools)" in added.out and "  sales.recent_deals" in added.out
    assert HUBSPOT_TOKEN not in broker("connectors", "show", "sales", "--json").out


def test_print_writes_an_applicable_document_without_the_gateway(broker: Broker) -> None:
    printed = broker(
        "connectors",
        "add-preset",
        "hubspot",
        "--print",
        "--url",
        "http://127.0.0.1:9",
        "--secret",
        "crm-token",
    )
    assert printed.code == 0, printed.err
    document = yaml.safe_load(printed.out)
    (crm,) = document["connectors"]
    assert (crm["name"], crm["base_url"], crm["auth"]["secret"]) == (
        "crm",
        "https://api.hubapi.com",
        "crm-token",
    )
    as_json = json.loads(broker("connectors", "add-preset", "open-meteo", "--print", "--json").out)
    assert [c["name"] for c in as_json["connectors"]] == ["weather", "weather-geo"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["salesforce"], "unknown preset 'salesforce'"),
        (["open-meteo", "--secret", "owm-key"], "preset 'open-meteo' needs no secret"),
        (["open-meteo", "--name", "My Weather"], "'My Weather' is not a valid connector name"),
        (
            ["open-meteo", "--base-url", "http://a", "--base-url", "http://b"],
            "--base-url URL can be given once",
        ),
        (["open-meteo", "--base-url", "geo=http://a"], "no connector 'geo' to set a base URL for"),
        (["hubspot", "--base-url", "api.hubapi.com"], "base_url 'api.hubapi.com'"),
    ],
)
def test_bad_arguments_are_usage_errors(broker: Broker, args: list[str], message: str) -> None:
    result = broker("connectors", "add-preset", *args)
    assert result.code == 2
    assert message in result.err and result.err.startswith("error: ")
    assert "no connectors" in broker("connectors", "list").out
