"""`broker connectors|agents|keys|audit ...` against the real gateway."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
import yaml

from tests.admin.conftest import list_tools_raw, weather_connector
from tests.cli.conftest import Broker
from tests.conftest import RunningGateway, free_port
from tests.e2e.helpers import mcp_client


def test_connectors_add_list_show_tools_remove(broker: Broker, tmp_path: Path, weather_upstream: str) -> None:
    path = tmp_path / "weather.yaml"
    path.write_text(yaml.safe_dump(weather_connector(weather_upstream)))
    added = broker("connectors", "add", "-f", str(path))
    assert (added.code, added.out) == (0, "created connector weather (1 tool)\n  weather.current\n")
    again = broker("connectors", "add", "-f", str(path))
    assert again.code == 1 and "already exists" in again.err
    assert broker("connectors", "add", "-f", str(path), "--replace").out.startswith(
        "unchanged connector weather"
    )

    listing = broker("connectors", "list").out.splitlines()
    assert listing[0].split() == ["NAME", "KIND", "TOOLS", "LOADED", "DESCRIPTION"]
    assert listing[1].split() == ["weather", "http", "1", "yes"]
    shown = broker("connectors", "show", "weather").out
    assert f"base_url:    {weather_upstream}" in shown
    assert "weather.current  read-only  Current weather for a city." in shown
    tools = json.loads(broker("connectors", "tools", "weather", "--json").out)
    assert tools[0]["input_schema"]["required"] == ["city"]
    assert broker("connectors", "remove", "weather").out == "removed connector weather\n"
    assert "no connectors yet" in broker("connectors", "list").out
    missing = broker("connectors", "show", "weather")
    assert (missing.code, missing.err.splitlines()[0]) == (
        1,
        "error: no connector named 'weather'; `broker connectors list` shows them",
    )


def test_connectors_add_reports_file_problems_with_lines(broker: Broker, tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("kind: http\nname: weather\nbase_url: ftp://x\ntools: []\n")
    result = broker("connectors", "add", "-f", str(path))
    assert result.code == 1
    assert f"{path}:3:1: base_url: must be an http:// or https:// URL" in result.err.splitlines()


def test_import_openapi_from_a_url_and_a_file(broker: Broker, tmp_path: Path, crm_upstream: str) -> None:
    spec_url = f"{crm_upstream}/openapi.json"
    private = "--allow-private-network"  # the demo CRM listens on loopback
    imported = broker(
        "connectors", "import-openapi", "crm", "--spec-url", spec_url, private, "--include", "*contact*"
    )
    assert imported.code == 0, imported.err
    assert imported.out.startswith("created connector crm (")
    assert "crm.get_contact" in imported.out and "crm.list_deals" not in imported.out

    spec = tmp_path / "crm.json"
    spec.write_text(httpx.get(spec_url).text)
    args = ["connectors", "import-openapi", "crm2", "--spec", str(spec), "--base-url", crm_upstream, private]
    assert "crm2.list_deals" in broker(*args).out
    unreachable = broker(
        "connectors", "import-openapi", "crm3", "--spec-url", "http://127.0.0.1:9/x.json", private
    )
    assert unreachable.code == 1 and "cannot fetch http://127.0.0.1:9/x.json" in unreachable.err
    loopback = broker("connectors", "import-openapi", "crm5", "--spec-url", spec_url)
    assert loopback.code == 1 and "on the command line: --allow-private-network" in loopback.err
    missing = broker("connectors", "import-openapi", "crm4", "--spec", str(tmp_path / "nope.json"))
    assert missing.code == 1 and "cannot read spec file" in missing.err


def test_agents_lifecycle(broker: Broker) -> None:
    created = broker("agents", "create", "support-bot", "--team", "support", "--description", "Helps")
    assert created.out.splitlines()[0] == "created agent support-bot (team support)"
    assert broker("agents", "create", "support-bot").code == 1
    invalid = broker("agents", "create", "Bad Name")
    assert invalid.code == 1 and "body.name: String should match pattern" in invalid.err
    rows = broker("agents", "list").out.splitlines()
    assert rows[1].split() == ["support-bot", "support", "yes", "0", "Helps"]
    assert broker("agents", "disable", "support-bot").out == "disabled agent support-bot\n"
    assert "enabled:     no" in broker("agents", "show", "support-bot").out
    assert broker("agents", "enable", "support-bot").out == "enabled agent support-bot\n"
    refused = broker("agents", "delete", "support-bot")  # stdin is not a terminal under pytest
    assert refused.code == 1 and "pass --yes" in refused.err
    assert (
        broker("agents", "delete", "support-bot", "--yes").out == "deleted agent support-bot and its keys\n"
    )
    assert json.loads(broker("agents", "list", "--json").out) == []


def test_keys_are_shown_once_and_revocation_works_on_mcp(broker: Broker, gateway: RunningGateway) -> None:
    broker("agents", "create", "bot")
    created = broker("keys", "create", "bot", "--label", "laptop", "--expires-in-days", "7")
    assert created.code == 0
    key = created.out.splitlines()[2].strip()
    assert key.startswith("tbk_")
    assert "shown only once" in created.out and "expires:" in created.out
    assert list_tools_raw(gateway, key).status_code == 200

    listing = broker("keys", "list", "bot")
    assert key not in listing.out
    _, prefix, label, status = listing.out.splitlines()[1].split()[:4]
    assert (prefix, label, status) == (key[:12], "laptop", "active")

    rotated = broker("keys", "rotate", "bot", prefix, "--json")
    new = json.loads(rotated.out)
    assert new["replaced"]["status"] == "revoked" and new["key"] != key
    assert list_tools_raw(gateway, key).status_code == 401

    assert broker("keys", "revoke", "bot", new["id"]).out == f"revoked key {new['prefix']} of agent bot\n"
    assert list_tools_raw(gateway, new["key"]).status_code == 401
    assert broker("keys", "list", "ghost").err.startswith("error: no agent named 'ghost'")


async def test_audit_tail_prints_recent_calls(
    broker: Broker, gateway: RunningGateway, weather_upstream: str
) -> None:
    key = gateway.create_agent("bot")
    gateway.admin.post("/admin/connectors", json=weather_connector(weather_upstream)).raise_for_status()
    policy = {
        "name": "p",
        "agents": ["bot"],
        "allow": ["weather.*"],
        "constraints": {"*": {"city": {"enum": ["Oslo"]}}},
    }
    gateway.admin.post("/admin/policies", json={"policies": [policy]}).raise_for_status()
    async with mcp_client(gateway.mcp_url, key) as client:
        await client.call_tool("weather.current", {"city": "Paris"})

    tail = broker("audit", "tail")
    lines = tail.out.splitlines()
    assert lines[0].split() == ["TIME", "AGENT", "TOOL", "OUTCOME", "CACHE", "MS", "REASON"]
    assert lines[1].split()[2:5] == ["bot", "weather.current", "denied"]
    records = [
        json.loads(line) for line in broker("audit", "tail", "--json", "--agent", "bot").out.splitlines()
    ]
    assert [r["outcome"] for r in records] == ["denied"]
    assert broker("audit", "tail", "--agent", "nobody").out.splitlines()[1:] == []


def test_connection_and_auth_errors_are_one_line(
    run_cli: Broker, gateway: RunningGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BROKER_ADMIN_TOKEN", raising=False)
    url = f"http://127.0.0.1:{free_port()}"
    refused = run_cli("--url", url, "agents", "list")
    assert (refused.code, refused.err) == (
        1,
        f"error: cannot reach the gateway at {url}: is `broker serve` running?\n",
    )
    no_token = run_cli("agents", "list", "--url", gateway.url)
    assert no_token.code == 1
    assert no_token.err.strip().endswith("(set BROKER_ADMIN_TOKEN, pass --token, or `broker login`)")
    wrong = run_cli("--url", gateway.url, "--token", "nope", "agents", "list")
    assert (wrong.code, wrong.err) == (1, "error: the admin token is not valid\n")
    usage = run_cli("keys", "create")
    assert usage.code == 2 and "the following arguments are required: agent" in usage.err
