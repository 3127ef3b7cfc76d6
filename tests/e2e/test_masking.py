"""PII masking end to end, through a real MCP client: results masked per policy (the demo's
support and analytics policies), tokens that round-trip into a second tool and reach the
upstream in clear, never for another agent and never once expired; planted secrets that
never surface; audit records without PII; the metric; the token vault on SQLite,
PostgreSQL and Redis."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import Any

import httpx
import mcp_types as types
import pytest
import yaml
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import func, select

from broker.demo.run import DEMO_DOCUMENT
from broker.demo.upstreams.crm import create_crm_app
from broker.demo.upstreams.serve import BackgroundServer
from broker.gateway import Gateway
from broker.pii.redis_vault import RedisTokenVault
from broker.pii.sql_vault import SqlTokenVault
from broker.secrets.keys import generate_key
from broker.store.db import make_engine
from broker.store.models import PiiTokenPlace, PiiTokenSlot
from tests.conftest import RunningGateway, start_gateway
from tests.e2e.conftest import DemoCatalog
from tests.e2e.helpers import mcp_client
from tests.e2e.pii_upstream import EMAIL, LEAKY_CONNECTOR, PLANTED, create_leaky_app
from tests.pii.conftest import redis_url

__all__ = ["redis_url"]  # the fixture, for the Redis backend

TOKEN = re.compile(r"<(EMAIL_ADDRESS|PHONE_NUMBER)_[0-9a-f]{8,32}>")
AGENTS = ("support-bot", "support-bot-2", "analyst")


def document(crm_url: str, leaky_url: str) -> dict[str, Any]:
    """The masking of the demo's support and analytics policies, over the demo CRM and a leaky upstream."""
    demo = yaml.safe_load(Template(DEMO_DOCUMENT.read_text()).safe_substitute())
    masking = {p["name"]: p["masking"] for p in demo["policies"]}
    echo_rule = {"leaky.echo": {"text": {"pattern": "^[^@]*$"}}}  # a denial reason that quotes the value
    return {
        "connectors": [
            {
                "kind": "openapi",
                "name": "crm",
                "spec_url": f"{crm_url}/openapi.json",
                "allow_private_network": True,
            },
            {**LEAKY_CONNECTOR, "base_url": leaky_url},
        ],
        "agents": [
            {"name": "support-bot", "team": "support"},
            {"name": "support-bot-2", "team": "support"},
            {"name": "analyst", "team": "analytics"},
        ],
        "policies": [
            {
                "name": "support",
                "teams": ["support"],
                "allow": ["crm.*", "leaky.*"],
                "constraints": echo_rule,
                "masking": masking["support"],
            },
            {
                "name": "analytics",
                "teams": ["analytics"],
                "allow": ["leaky.*"],
                "masking": masking["analytics"],
            },
        ],
    }


@dataclass
class Setup:
    gateway: RunningGateway
    server: BackgroundServer
    crm: FastAPI
    leaky: FastAPI
    keys: dict[str, str]
    settings: dict[str, Any]

    @property
    def internals(self) -> Gateway:
        gateway: Gateway = self.server.app.state.gateway  # type: ignore[attr-defined]
        return gateway

    async def call(self, agent: str, tool: str, arguments: dict[str, Any]) -> types.CallToolResult:
        async with mcp_client(self.gateway.mcp_url, self.keys[agent]) as client:
            return await client.call_tool(tool, arguments)

    def audit(self, **filters: str) -> list[dict[str, Any]]:
        response = self.gateway.admin.get("/admin/audit", params={"limit": 200, **filters})
        response.raise_for_status()
        records: list[dict[str, Any]] = response.json()
        return records


@pytest.fixture(params=["sqlite"])
def setup(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Setup]:
    backend = request.param
    settings: dict[str, Any] = {
        "secret_keys": SecretStr(generate_key()),
        "pii_salt": SecretStr("e2e-pii-salt-0123456789"),
    }
    if backend == "postgresql":
        database_url: str = request.getfixturevalue("postgres_url")
    else:
        database_url = f"sqlite:///{tmp_path / 'broker.db'}"
    if backend == "redis":
        settings["redis_url"] = request.getfixturevalue("redis_url")
    crm, leaky = create_crm_app(), create_leaky_app()
    with BackgroundServer(crm) as crm_server, BackgroundServer(leaky) as leaky_server:
        server, gateway = start_gateway(database_url, **settings)
        try:
            applied = gateway.admin.post("/admin/apply", json=document(crm_server.url, leaky_server.url))
            assert applied.status_code == 200, applied.text
            keys = {
                name: gateway.admin.post(f"/admin/agents/{name}/keys", json={}).json()["key"]
                for name in AGENTS
            }
            yield Setup(gateway, server, crm, leaky, keys, {"database_url": database_url, **settings})
        finally:
            gateway.admin.close()
            server.stop()


def contact_email(setup: Setup, contact_id: str = "1001") -> str:
    contact = setup.crm.state.dataset.find_contact(contact_id)
    email: str = contact.properties.email
    return email


async def contact_token(setup: Setup, agent: str = "support-bot", contact_id: str = "1001") -> str:
    result = await setup.call(agent, "crm.get_contact", {"contact_id": contact_id})
    assert not result.is_error and result.structured_content is not None, result
    token: str = result.structured_content["properties"]["email"]
    assert TOKEN.fullmatch(token), token
    return token


async def test_results_are_masked_per_policy(setup: Setup) -> None:
    result = await setup.call("support-bot", "crm.get_contact", {"contact_id": "1001"})
    assert result.structured_content is not None
    properties = result.structured_content["properties"]
    assert TOKEN.fullmatch(properties["email"]) and TOKEN.fullmatch(properties["phone"])
    assert properties["firstname"] and properties["email"].startswith("<EMAIL_ADDRESS_")
    text = result.content[0].text  # type: ignore[union-attr]
    assert properties["email"] in text and contact_email(setup) not in result.model_dump_json()
    assert await contact_token(setup) == properties["email"]  # stable for the agent

    listed = await setup.call("support-bot", "crm.list_contacts", {"limit": 5})
    emails = [c["properties"]["email"] for c in (listed.structured_content or {})["results"]]
    assert len(set(emails)) == 5 and all(TOKEN.fullmatch(e) for e in emails)

    support = await setup.call("support-bot", "leaky.profile", {})
    analyst = await setup.call("analyst", "leaky.profile", {})
    assert support.structured_content is not None and analyst.structured_content is not None
    assert TOKEN.fullmatch(support.structured_content["email"])
    assert analyst.structured_content["email"] == "<EMAIL_ADDRESS>"
    assert analyst.structured_content["phone"] == "<PHONE_NUMBER>"
    assert support.structured_content["card"] == analyst.structured_content["card"] == "<CREDIT_CARD>"
    assert not TOKEN.search(analyst.model_dump_json())


@pytest.mark.parametrize("setup", ["sqlite", "postgresql", "redis"], indirect=True)
async def test_a_token_reaches_the_upstream_in_clear_and_only_for_its_agent(setup: Setup) -> None:
    vault = setup.internals.maskers.vault
    if "redis_url" in setup.settings:
        assert isinstance(vault, RedisTokenVault)
    else:  # SQLite writes behind (one instance); PostgreSQL before the call returns
        assert isinstance(vault, SqlTokenVault)
        assert vault.write_behind == setup.settings["database_url"].startswith("sqlite")
    token = await contact_token(setup)
    email = contact_email(setup)
    notes = setup.crm.state.dataset.notes

    note = await setup.call(
        "support-bot", "crm.create_note", {"contact_id": "1001", "body": f"Mail {token} today"}
    )
    assert not note.is_error, note
    assert notes[-1].properties.hs_note_body == f"Mail {email} today"  # the CRM got the real address
    assert email not in note.model_dump_json() and token in note.model_dump_json()  # masked on the way back

    echoed = await setup.call("support-bot", "leaky.echo", {"text": f"see {token}"})
    assert not echoed.is_error
    assert setup.leaky.state.received[-1] == {"text": f"see {token}"}  # not a tool that may resolve

    count = len(notes)
    stolen = await setup.call(
        "support-bot-2", "crm.create_note", {"contact_id": "1001", "body": f"Mail {token}"}
    )
    assert stolen.is_error and "cannot be resolved for you" in stolen.content[0].text  # type: ignore[union-attr]
    assert len(notes) == count  # the upstream was not called
    [record] = setup.audit(agent="support-bot-2", tool="crm.create_note")
    assert record["outcome"] == "unknown_token"

    if "redis_url" in setup.settings or setup.settings["database_url"].startswith("postgresql"):
        # another instance on the same store resolves it at once (written before the call returned)
        other_server, other = start_gateway(**setup.settings)
        try:
            async with mcp_client(other.mcp_url, setup.keys["support-bot"]) as client:
                arguments = {"contact_id": "1001", "body": f"Again {token}"}
                again = await client.call_tool("crm.create_note", arguments)
            assert not again.is_error, again
            assert notes[-1].properties.hs_note_body == f"Again {email}"
        finally:
            other.admin.close()
            other_server.stop()


async def test_an_expired_token_is_refused(setup: Setup) -> None:
    token = await contact_token(setup)
    vault = setup.internals.maskers.vault
    assert vault is not None
    vault.clock = lambda: time.time() + 2 * 3600  # past the demo's token_ttl_seconds (3600)
    count = len(setup.crm.state.dataset.notes)
    result = await setup.call("support-bot", "crm.create_note", {"contact_id": "1001", "body": token})
    assert result.is_error and "expire" in result.content[0].text  # type: ignore[union-attr]
    assert len(setup.crm.state.dataset.notes) == count


async def test_planted_secrets_never_surface(setup: Setup) -> None:
    seen = []
    for agent in ("support-bot", "analyst"):
        profile = await setup.call(agent, "leaky.profile", {})
        failed = await setup.call(agent, "leaky.fail", {})
        assert not profile.is_error and failed.is_error
        message = failed.content[0].text  # type: ignore[union-attr]
        assert "answered 500" in message and "<SECRET>" in message
        assert ("<EMAIL_ADDRESS_" if agent == "support-bot" else "<EMAIL_ADDRESS>") in message
        integration = (profile.structured_content or {})["integration"]
        assert integration["api_key"] == "<SECRET>" and "<SECRET>" in integration["deploy_key"]
        assert "<SECRET>" in integration["session"]
        seen += [profile.model_dump_json(), failed.model_dump_json()]
    everything = "\n".join(seen)
    assert [value for value in PLANTED if value in everything or json.dumps(value) in everything] == []


async def test_audit_holds_no_pii_and_counts_what_was_masked(setup: Setup) -> None:
    token = await contact_token(setup)
    await setup.call("support-bot", "leaky.profile", {})
    await setup.call("support-bot", "leaky.fail", {})
    denied = await setup.call("support-bot", "leaky.echo", {"text": f"write to {EMAIL}"})
    assert denied.is_error
    await setup.call("support-bot-2", "crm.create_note", {"contact_id": "1001", "body": token})

    records = setup.audit()
    text = json.dumps(records)
    assert [value for value in [*PLANTED, contact_email(setup)] if value in text] == []
    by_tool = {r["tool"]: r for r in records if r["agent"] == "support-bot"}
    assert by_tool["crm.get_contact"]["masked"] == {"EMAIL_ADDRESS": 1, "PHONE_NUMBER": 1}
    assert by_tool["leaky.profile"]["masked"]["SECRET"] >= 4
    assert by_tool["leaky.fail"]["outcome"] == "upstream_error"
    assert (
        "<EMAIL_ADDRESS>" in by_tool["leaky.fail"]["error"] and "<SECRET>" in by_tool["leaky.fail"]["error"]
    )
    assert (
        by_tool["leaky.echo"]["outcome"] == "denied" and "<EMAIL_ADDRESS>" in by_tool["leaky.echo"]["reason"]
    )

    metrics = httpx.get(f"{setup.gateway.url}/metrics").text
    counted = re.search(r'^broker_pii_masked_total\{entity="EMAIL_ADDRESS"\} (\S+)$', metrics, re.M)
    assert counted is not None and float(counted.group(1)) >= 3

    engine = make_engine(setup.gateway.database_url)
    deadline = time.monotonic() + 5
    with engine.connect() as connection:  # the vault writes behind on SQLite: wait for the batch
        while not sum(
            connection.execute(select(func.count()).select_from(table)).scalar_one()
            for table in (PiiTokenSlot, PiiTokenPlace)  # writing behind on SQLite: places
        ):
            assert time.monotonic() < deadline, "no PII token was stored"
            time.sleep(0.05)
    engine.dispose()
    path = Path(setup.gateway.database_url.removeprefix("sqlite:///"))
    stored = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
    assert contact_email(setup).encode() not in stored and EMAIL.encode() not in stored


async def test_the_demo_shows_tokens_to_its_support_bot(demo: DemoCatalog) -> None:
    """broker.demo.yaml as applied by `broker demo`: the support bot works with tokens."""
    async with mcp_client(demo.gateway.mcp_url, demo.support_key) as client:
        contact = await client.call_tool("crm.get_contact", {"contact_id": "1002"})
        properties = (contact.structured_content or {})["properties"]
        assert TOKEN.fullmatch(properties["email"]) and TOKEN.fullmatch(properties["phone"])
        note = {"contact_id": "1002", "body": f"Confirmed by e-mail to {properties['email']}"}
        assert not (await client.call_tool("crm.create_note", note)).is_error
    real = demo.crm_app.state.dataset.find_contact("1002").properties.email
    assert demo.crm_app.state.dataset.notes[-1].properties.hs_note_body == f"Confirmed by e-mail to {real}"
