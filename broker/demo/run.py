"""`broker demo` (and `make demo`): the gateway with local demo upstreams, ready to connect to.

It starts the weather and CRM demo services on loopback (and a second CRM that wants a
token, behind the hubspot preset) and a mock LLM provider, writes a demo SQL database, starts
the gateway on a fresh SQLite file, stores the CRM token and the provider key in the
encrypted secret store, applies broker.demo.yaml plus the presets, then llm.demo.yaml (the
LLM proxy's providers, models, prices and budgets), through the admin API (as an operator
would), creates a key for each demo agent, and prints what an MCP client needs and where the
OpenAI-compatible endpoint is. The same facts go to .demo/connection.json for scripts.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import shutil
import signal
import socket
import sys
import threading
from pathlib import Path
from string import Template
from typing import Any

import httpx
import yaml
from pydantic import SecretStr

from broker.app import create_app
from broker.demo.crm_db import create_crm_database
from broker.demo.upstreams.crm import create_crm_app
from broker.demo.upstreams.llm import MockLLM, create_llm_app
from broker.demo.upstreams.serve import BackgroundServer, ServerStartError
from broker.demo.upstreams.weather import create_weather_app
from broker.secrets.errors import SecretKeyError
from broker.secrets.keys import generate_key
from broker.settings import Settings, SettingsError, load_settings
from connectors.presets import load_preset

DEMO_DOCUMENT = Path(__file__).with_name("broker.demo.yaml")
LLM_DOCUMENT = Path(__file__).with_name("llm.demo.yaml")
LLM_SECRET = "mock-llm-key"  # noqa: S105 - the name of a secret in the store, not a value
HUBSPOT_SECRET = "hubspot-token"  # noqa: S105 - the name of a secret in the store, not a value


def run(settings: Settings, workdir: Path) -> None:
    """Run the demo until interrupted."""
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    admin_token = settings.admin_token or SecretStr(secrets.token_urlsafe(24))
    settings = settings.model_copy(
        update={
            "database_url": f"sqlite:///{workdir / 'broker.db'}",
            "admin_token": admin_token,
            "secret_keys": settings.secret_keys or SecretStr(generate_key()),
            # keyed hashes and PII tokens: random per run is fine, each run starts a fresh database
            "pii_salt": settings.pii_salt or SecretStr(secrets.token_urlsafe(24)),
        }
    )
    hubspot_token = secrets.token_urlsafe(24)
    llm_key = f"sk-mock-{secrets.token_urlsafe(18)}"
    with contextlib.ExitStack() as stack:
        near = upstream_ports(settings.host, settings.port)
        weather = stack.enter_context(BackgroundServer(create_weather_app(), port=near[0]))
        crm = stack.enter_context(BackgroundServer(create_crm_app(), port=near[1]))
        hubspot = stack.enter_context(BackgroundServer(create_crm_app(api_token=hubspot_token), port=near[2]))
        mock_llm = create_llm_app(MockLLM(api_key=llm_key, record=False))
        llm = stack.enter_context(BackgroundServer(mock_llm, port=near[3]))
        gateway = stack.enter_context(
            BackgroundServer(create_app(settings), host=settings.host, port=settings.port, startup_timeout=60)
        )
        document = demo_document(
            weather_url=weather.url,
            crm_url=crm.url,
            hubspot_url=hubspot.url,
            crm_db=create_crm_database(workdir / "crm.db"),
        )
        (workdir / "broker.demo.yaml").write_text(yaml.safe_dump(document, sort_keys=False, width=100))
        llm_document = Template(LLM_DOCUMENT.read_text()).substitute(LLM_URL=llm.url)
        (workdir / "llm.demo.yaml").write_text(llm_document)
        connection = _provision(
            gateway.url,
            admin_token.get_secret_value(),
            [document, yaml.safe_load(llm_document)],
            {HUBSPOT_SECRET: hubspot_token, LLM_SECRET: llm_key},
        )
        connection["upstreams"] = {
            "weather": weather.url,
            "crm": crm.url,
            "hubspot": hubspot.url,
            "llm": llm.url,
        }
        (workdir / "connection.json").write_text(json.dumps(connection, indent=2) + "\n")
        print(_banner(connection, workdir), flush=True)
        _wait_for_interrupt()


def upstream_ports(host: str, gateway_port: int) -> list[int]:
    """The demo upstreams listen next to the gateway (8001 weather, 8002 CRM, 8003 HubSpot-like
    CRM, 8004 mock LLM beside 8000), so the README can name them; a busy one gets a free port."""
    ports = []
    for offset in range(1, 5):
        port = gateway_port + offset if gateway_port else 0
        with socket.socket() as probe:
            try:
                probe.bind((host, port))
            except OSError:
                port = 0
        ports.append(port)
    return ports


def demo_document(*, weather_url: str, crm_url: str, hubspot_url: str, crm_db: Path) -> dict[str, Any]:
    """broker.demo.yaml with the local addresses filled in, plus the weather and CRM presets."""
    text = Template(DEMO_DOCUMENT.read_text()).substitute(
        WEATHER_URL=weather_url, CRM_URL=crm_url, CRM_DB=crm_db, PYTHON=sys.executable
    )
    document: dict[str, Any] = yaml.safe_load(text)
    document["connectors"] += load_preset(
        "open-meteo", name_override="meteo", base_url=weather_url, allow_private_network=True
    )
    document["connectors"] += load_preset(
        "hubspot",
        name_override="hubspot",
        base_url=hubspot_url,
        secret=HUBSPOT_SECRET,
        allow_private_network=True,
    )
    return document


def _provision(
    url: str, admin_token: str, documents: list[dict[str, Any]], secret_values: dict[str, str]
) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {admin_token}"}
    with httpx.Client(base_url=url, headers=headers, timeout=60) as admin:
        for name, value in secret_values.items():
            _check(admin.put(f"/admin/secrets/{name}", json={"value": value, "kind": "token"}))
        for document in documents:
            _check(admin.post("/admin/apply", json=document))
        agents = []
        for agent in documents[0]["agents"]:
            name = agent["name"]
            key = _check(admin.post(f"/admin/agents/{name}/keys", json={"label": "demo"}))["key"]
            tools = _check(admin.get("/admin/tools", params={"agent": name}))
            models = _check(admin.get("/v1/models", headers={"Authorization": f"Bearer {key}"}))
            agents.append(
                {
                    "name": name,
                    "team": agent.get("team"),
                    "key": key,
                    "tools": _visible_tool_names(tools),
                    "models": [m["id"] for m in models["data"]],
                }
            )
    return {
        "mcp_url": f"{url}/mcp",
        "llm_base_url": f"{url}/v1",
        "admin_url": f"{url}/admin",
        "admin_token": admin_token,
        "agents": agents,
    }


def _visible_tool_names(listing: dict[str, Any]) -> list[str]:
    return [t["name"] for t in listing["tools"] if t.get("visible", True)]


def _check(response: httpx.Response) -> Any:
    if response.is_error:
        raise SystemExit(
            f"demo set-up failed: {response.request.method} {response.request.url.path}: {response.text}"
        )
    return response.json()


def _banner(connection: dict[str, Any], workdir: Path) -> str:
    lines = [
        "",
        "tool-broker demo is running. Press Ctrl-C to stop.",
        "",
        f"  MCP endpoint : {connection['mcp_url']}",
        f"  LLM endpoint : {connection['llm_base_url']}  (OpenAI-compatible; agent keys as API keys)",
        f"  Admin API    : {connection['admin_url']}  (docs: {connection['admin_url']}/docs)",
        f"  Admin token  : {connection['admin_token']}",
        "",
    ]
    for agent in connection["agents"]:
        lines.append(f"  Agent {agent['name']} (team {agent['team']})")
        lines.append(f"    key   : {agent['key']}")
        lines.append(f"    tools : {', '.join(agent['tools']) or '(none)'}")
        lines.append(f"    models: {', '.join(agent['models']) or '(none)'}")
    first = connection["agents"][0]
    config = {
        "mcpServers": {
            "tool-broker": {
                "type": "http",
                "url": connection["mcp_url"],
                "headers": {"Authorization": f"Bearer {first['key']}"},
            }
        }
    }
    lines += [
        "",
        f"Client config for {first['name']} (Claude Desktop / Cursor / Claude Code `mcpServers`):",
        json.dumps(config, indent=2),
        "",
        f"The same facts, for scripts: {workdir / 'connection.json'}",
        f"Try: BROKER_ADMIN_TOKEN={connection['admin_token']} .venv/bin/broker audit tail",
        f'     OpenAI(base_url="{connection["llm_base_url"]}", api_key="{first["key"]}")'
        '.chat.completions.create(model="fast", ...)',
        f"     BROKER_ADMIN_TOKEN={connection['admin_token']} .venv/bin/broker usage",
        "     as support-bot, crm.get_contact shows e-mails and phones as tokens (<EMAIL_ADDRESS_...>);",
        "     quote one in crm.create_note and the CRM receives the real address",
        "     call weather.current twice: the second answer is a cache hit (CACHE in `broker audit tail`;",
        f"     BROKER_ADMIN_TOKEN={connection['admin_token']} .venv/bin/broker cache stats)",
    ]
    return "\n".join(lines)


def _wait_for_interrupt() -> None:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    print("\nstopping the demo ...", flush=True)


def main() -> None:
    try:
        settings = load_settings()
    except SettingsError as exc:
        raise SystemExit(f"demo could not start: {exc}") from None
    try:
        run(settings, Path.cwd() / ".demo")
    except (SecretKeyError, ValueError) as exc:  # settings that cannot be used: one line
        raise SystemExit(f"demo could not start: {exc}") from None
    except ServerStartError as exc:
        raise SystemExit(
            f"demo could not start: {exc}. Another program may hold the port; "
            f"choose another with BROKER_PORT=8001 make demo"
        ) from None
