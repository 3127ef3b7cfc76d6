"""A gateway with real traffic for the console to show: tool calls over MCP (cached, masked,
denied, failing upstream, a hostile unknown name), model calls through /v1 to a local mock
provider, and an upstream MCP server whose tool is changed under the gateway (a rug pull)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openai
from mcp.shared.exceptions import MCPError
from pydantic import SecretStr
from sqlalchemy import select

from broker.demo import run
from broker.demo.upstreams.crm import create_crm_app
from broker.demo.upstreams.llm import MockLLM, create_llm_app
from broker.demo.upstreams.serve import BackgroundServer
from broker.demo.upstreams.weather import create_weather_app
from broker.store.db import make_engine, make_sessionmaker
from broker.store.models import AuditRecord, LlmUsageRecord
from tests.conftest import RunningGateway, start_gateway
from tests.connectors.mcp.upstream import Catalog, create_app, notify
from tests.e2e.helpers import mcp_client
from tests.llm.conftest import PROVIDER_KEY, mock_document

HOSTILE = '<img src=x onerror="window.__xss=1">'
HOSTILE_TOOL = f"crm.{HOSTILE}<script>window.__xss=2</script>"
HOSTILE_DESCRIPTION = f"Echo it. <IMPORTANT>{HOSTILE}<script>window.__xss=3</script></IMPORTANT>"


@dataclass
class Traffic:
    gateway: RunningGateway
    keys: dict[str, str]
    upstream: Catalog
    upstream_url: str

    def ledger(self) -> list[LlmUsageRecord]:
        return self._rows(LlmUsageRecord)

    def audit(self) -> list[AuditRecord]:
        return self._rows(AuditRecord)

    def _rows(self, model: Any) -> list[Any]:
        engine = make_engine(self.gateway.database_url)
        try:
            with make_sessionmaker(engine)() as session:
                return list(session.scalars(select(model)))
        finally:
            engine.dispose()


def document(weather_url: str, crm_url: str, tmp: Path) -> dict[str, Any]:
    """The demo's agents and policies over two of its connectors (weather, the CRM's OpenAPI)."""
    found = run.demo_document(
        weather_url=weather_url, crm_url=crm_url, hubspot_url=crm_url, crm_db=tmp / "x.db"
    )
    kept = ("weather", "crm")
    found["connectors"] = [c for c in found["connectors"] if c["name"] in kept]
    for policy in found["policies"]:
        policy["allow"] = [p for p in policy["allow"] if p.split(".")[0] in kept]
    return found


@contextmanager
def running_traffic(tmp: Path) -> Iterator[Traffic]:
    with ExitStack() as stack:
        catalog = Catalog()
        upstream = stack.enter_context(BackgroundServer(create_app(catalog)))
        weather = stack.enter_context(BackgroundServer(create_weather_app()))
        crm = stack.enter_context(BackgroundServer(create_crm_app()))
        llm = stack.enter_context(BackgroundServer(create_llm_app(MockLLM(api_key=PROVIDER_KEY))))
        server, gateway = start_gateway(
            f"sqlite:///{tmp / 'console.db'}", llm_provider_keys={"MOCK_KEY": SecretStr(PROVIDER_KEY)}
        )
        stack.callback(server.stop)
        stack.callback(gateway.admin.close)
        admin = gateway.admin
        check(admin.post("/admin/apply", json=document(weather.url, crm.url, tmp)))
        mcp = {"kind": "mcp", "name": "up", "transport": "http", "url": f"{upstream.url}/mcp",
               "allow_private_network": True}  # fmt: skip
        check(admin.post("/admin/connectors", json=mcp))
        check(admin.post("/admin/llm/apply", json=mock_document(llm.url)))
        models = {"name": "console-models", "teams": ["support", "analytics"], "allow": ["up.*"],
                  "models": {"allow": ["*"]}}  # fmt: skip
        check(admin.post("/admin/policies", json={"policies": [models]}))
        intruder = {"name": "intruder", "description": HOSTILE_DESCRIPTION}  # free text an operator typed
        check(admin.post("/admin/agents", json=intruder))
        keys = {n: check(admin.post(f"/admin/agents/{n}/keys", json={"label": "ui"}))["key"]
                for n in ("support-bot", "analyst")}  # fmt: skip
        traffic = Traffic(gateway, keys, catalog, upstream.url)
        asyncio.run(_tool_calls(traffic))
        _model_calls(traffic)
        _rug_pull(traffic)
        yield traffic


def check(response: Any) -> Any:
    assert response.status_code in (200, 201), response.text
    return response.json()


async def _tool_calls(traffic: Traffic) -> None:
    url = traffic.gateway.mcp_url
    async with mcp_client(url, traffic.keys["support-bot"]) as bot:
        for _ in range(3):  # a miss, then hits
            assert not (await bot.call_tool("weather.current", {"city": "Paris"})).is_error
        assert (await bot.call_tool("weather.current", {"city": "Atlantis"})).is_error  # the upstream's 404
        for contact in ("1001", "1002"):  # e-mails and phones masked as tokens
            assert not (await bot.call_tool("crm.get_contact", {"contact_id": contact})).is_error
        assert not (await bot.call_tool("up.echo", {"text": "hi"})).is_error
        with suppress(MCPError):
            await bot.call_tool(HOSTILE_TOOL, {})
    async with mcp_client(url, traffic.keys["analyst"]) as analyst:
        assert not (await analyst.call_tool("crm.list_companies", {})).is_error
        for _ in range(2):
            assert (
                await analyst.call_tool("weather.forecast", {"city": "Paris", "days": 6})
            ).is_error  # denied


def _model_calls(traffic: Traffic) -> None:
    base = f"{traffic.gateway.url}/v1"
    calls = {"support-bot": [("fast", 3)], "analyst": [("mock-large", 2), ("fast", 1)]}
    for agent, plan in calls.items():
        client = openai.OpenAI(base_url=base, api_key=traffic.keys[agent], max_retries=0)
        for model, times in plan:
            for i in range(times):
                client.chat.completions.create(
                    model=model, messages=[{"role": "user", "content": f"question {i} from {agent}"}]
                )


def _rug_pull(traffic: Traffic) -> None:
    """Change a pinned upstream tool's description (hostile markup in it) until the gateway quarantines it."""
    traffic.upstream.describe("echo", HOSTILE_DESCRIPTION)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        notify(traffic.upstream_url)
        held = traffic.gateway.admin.get("/admin/quarantine").json()
        if any(item["tool"] == "up.echo" for item in held):
            return
        time.sleep(0.2)
    raise AssertionError("the changed upstream tool was never quarantined")
