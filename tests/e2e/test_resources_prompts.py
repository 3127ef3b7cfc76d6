"""Resources, templates, prompts and completion through the gateway, with the mcp SDK client in
both protocol eras: namespaced URIs that read back, policy (default deny, deny wins, prompt
argument constraints), PII masking, the resource cache, and the audit record of each."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mcp_types as types
import pytest
from mcp.shared.exceptions import MCPError

from broker.demo.upstreams.serve import BackgroundServer
from tests.conftest import RunningGateway, start_gateway
from tests.e2e.catalog_upstream import EMAIL, Counter, build_app
from tests.e2e.helpers import MODES, mcp_client

CONTACT = "broker://cat/notes://contact"
SECRET = "broker://cat/notes://secret"
TEMPLATE = "broker://cat/records://customer/{id}"
POLICIES = {
    "policies": [
        {
            "name": "readers",
            "agents": ["reader"],
            "allow": ["cat.*"],
            "resources": {"allow": ["broker://cat/*", "broker://db/*", "broker://wx/*"], "deny": [SECRET]},
            "prompts": {
                "allow": ["cat.*"],
                "constraints": {"cat.greet": {"language": {"enum": ["en", "de"]}}},
            },
        },
        {"name": "tools-only", "agents": ["outsider"], "allow": ["cat.echo"]},
    ]
}


def sql_connector(path: Path) -> dict[str, Any]:
    database = path / "shop.db"
    with sqlite3.connect(database) as db:
        db.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, city TEXT, email TEXT)")
        db.executemany(
            "INSERT INTO customers (city, email) VALUES (?, ?)",
            [("Paris", EMAIL), ("Berlin", "max@example.org")] * 30,
        )
    query = {
        "name": "by_city",
        "description": "Customers of one city.",
        "sql": "SELECT id, city FROM customers WHERE city = :city ORDER BY id LIMIT 3",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    }
    return {"kind": "sql", "name": "db", "url": f"sqlite:///{database}", "queries": [query]}


def http_connector(base_url: str, tool: str = "current") -> dict[str, Any]:
    current = {
        "name": "current",
        "description": "Current weather for a city.",
        "method": "GET",
        "path": "/v1/current",
        "query": ["city"],
        "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    }
    resource = {"uri": "cities/{city}/current", "tool": tool, "name": "Current weather"}
    return {
        "kind": "http",
        "name": "wx",
        "base_url": base_url,
        "allow_private_network": True,
        "tools": [current],
        "resources": [resource],
    }


@dataclass
class Setup:
    gateway: RunningGateway
    counter: Counter
    reader: str
    outsider: str

    def audit(self, **params: Any) -> list[dict[str, Any]]:
        response = self.gateway.admin.get("/admin/audit", params=params)
        response.raise_for_status()
        records: list[dict[str, Any]] = response.json()
        return records


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory, weather_upstream: str) -> Iterator[Setup]:
    counter = Counter()
    path: Path = tmp_path_factory.mktemp("catalog")
    with BackgroundServer(build_app(counter)) as upstream:
        server, gateway = start_gateway(f"sqlite:///{path / 'broker.db'}")
        try:
            connector = {
                "kind": "mcp",
                "name": "cat",
                "transport": "http",
                "url": f"{upstream.url}/mcp",
                "allow_private_network": True,
            }
            gateway.admin.post("/admin/connectors", json=connector).raise_for_status()
            gateway.admin.post("/admin/connectors", json=sql_connector(path)).raise_for_status()
            gateway.admin.post("/admin/connectors", json=http_connector(weather_upstream)).raise_for_status()
            reader, outsider = gateway.create_agent("reader"), gateway.create_agent("outsider")
            response = gateway.admin.post("/admin/policies", json=POLICIES)
            assert response.status_code < 300, response.text
            yield Setup(gateway, counter, reader, outsider)
        finally:
            gateway.admin.close()
            server.stop()


async def refused(operation: Any) -> MCPError:
    try:
        await operation
    except MCPError as exc:
        return exc
    raise AssertionError("the gateway answered instead of refusing")


@pytest.mark.parametrize("mode", MODES)
async def test_resources_are_namespaced_granted_masked_and_read_back(setup: Setup, mode: str) -> None:
    async with mcp_client(setup.gateway.mcp_url, setup.reader, mode=mode) as client:
        listed = {resource.uri: resource for resource in (await client.list_resources()).resources}
        assert CONTACT in listed and SECRET not in listed  # deny wins over the glob
        assert listed[CONTACT].mime_type == "text/plain" and listed[CONTACT].description == "Who to call."
        templates = [t.uri_template for t in (await client.list_resource_templates()).resource_templates]
        assert templates == [
            TEMPLATE,
            "broker://db/tables/{table}",
            "broker://db/queries/by_city{?city}",
            "broker://wx/cities/{city}/current",
        ]

        read = await client.read_resource(CONTACT)
        content = read.contents[0]
        assert isinstance(content, types.TextResourceContents)
        assert content.uri == CONTACT  # the gateway's URI, which reads back
        assert EMAIL not in content.text and "Write to" in content.text

        record = await client.read_resource("broker://cat/records://customer/42")
        text = record.contents[0]
        assert isinstance(text, types.TextResourceContents)
        assert '"42"' in text.text and EMAIL not in text.text  # JSON masked structurally

        for uri in (SECRET, "broker://nope/x", "notes://contact"):
            error = await refused(client.read_resource(uri))
            assert error.error.code == types.INVALID_PARAMS and "Unknown resource" in error.error.message


@pytest.mark.parametrize("mode", MODES)
async def test_prompts_get_with_arguments_constraints_and_masking(setup: Setup, mode: str) -> None:
    async with mcp_client(setup.gateway.mcp_url, setup.reader, mode=mode) as client:
        prompts = {prompt.name: prompt for prompt in (await client.list_prompts()).prompts}
        assert set(prompts) == {"cat.greet", "cat.summarise"}
        assert [a.name for a in prompts["cat.greet"].arguments or []] == ["name", "language"]

        got = await client.get_prompt("cat.greet", {"name": "Ada", "language": "de"})
        message = got.messages[0].content
        assert isinstance(message, types.TextContent)
        assert "Say hello to Ada (de)" in message.text and EMAIL not in message.text

        denied = await refused(client.get_prompt("cat.greet", {"name": "Ada", "language": "fr"}))
        assert denied.error.code == types.INVALID_PARAMS and "'language'" in denied.error.message
        missing = await refused(client.get_prompt("cat.greet", {"language": "en"}))
        assert missing.error.code == types.INVALID_PARAMS and "name" in missing.error.message
        unknown = await refused(client.get_prompt("cat.nothing", {}))
        assert unknown.error.code == types.INVALID_PARAMS

        embedded = await client.get_prompt("cat.summarise", {"resource_uri": "notes://contact"})
        block = embedded.messages[0].content
        assert isinstance(block, types.EmbeddedResource)
        assert block.resource.uri == CONTACT  # an embedded resource points at the gateway's URI


@pytest.mark.parametrize("mode", MODES)
async def test_completion_of_prompt_arguments_and_template_variables(setup: Setup, mode: str) -> None:
    async with mcp_client(setup.gateway.mcp_url, setup.reader, mode=mode) as client:
        names = await client.complete(
            types.PromptReference(type="ref/prompt", name="cat.greet"), {"name": "name", "value": "A"}
        )
        assert names.completion.values == ["Ada", "Alan"]
        ids = await client.complete(
            types.ResourceTemplateReference(type="ref/resource", uri=TEMPLATE), {"name": "id", "value": "4"}
        )
        assert ids.completion.values == ["42"]


@pytest.mark.parametrize("mode", MODES)
async def test_an_agent_without_grants_sees_and_reads_nothing(setup: Setup, mode: str) -> None:
    async with mcp_client(setup.gateway.mcp_url, setup.outsider, mode=mode) as client:
        assert [tool.name for tool in (await client.list_tools()).tools] == ["cat.echo"]
        assert (await client.list_resources()).resources == []
        assert (await client.list_resource_templates()).resource_templates == []
        assert (await client.list_prompts()).prompts == []
        error = await refused(client.read_resource(CONTACT))
        assert error.error.code == types.INVALID_PARAMS
        error = await refused(client.get_prompt("cat.greet", {"name": "Ada"}))
        assert error.error.code == types.INVALID_PARAMS
        error = await refused(client.list_tools(cursor="not-a-cursor"))
        assert error.error.code == types.INVALID_PARAMS and "cursor" in error.error.message


async def test_reads_are_cached_and_every_operation_is_audited(setup: Setup) -> None:
    async with mcp_client(setup.gateway.mcp_url, setup.reader) as client:
        before = setup.counter.reads
        first = await client.read_resource(CONTACT)
        second = await client.read_resource(CONTACT)
        assert first.contents == second.contents
        assert setup.counter.reads - before <= 1  # the second read (at least) came from the cache
        await client.get_prompt("cat.greet", {"name": "Ada"})
        await refused(client.read_resource(SECRET))

    reads = setup.audit(operation="resources/read", agent="reader", limit=100)
    served = [r for r in reads if r["tool"] == CONTACT]
    assert {r["cache"] for r in served[:2]} <= {"hit", "miss", "coalesced"} and "hit" in {
        r["cache"] for r in served
    }
    fetched = next(r for r in served if r["cache"] == "miss")
    assert fetched["masked"] == {"EMAIL_ADDRESS": 1} and fetched["decision"] == "allow"  # stored masked
    refused_read = next(r for r in reads if r["outcome"] == "unknown_resource")
    assert refused_read["decision"] == "deny" and "resources.deny" in refused_read["reason"]
    gets = setup.audit(operation="prompts/get", agent="reader", limit=1)
    assert (
        gets[0]["tool"] == "cat.greet"
        and gets[0]["argument_names"] == ["name"]
        and gets[0]["outcome"] == "ok"
    )
    metrics = setup.gateway.admin.get("/metrics").text
    assert (
        'broker_requests_total{agent="reader",connector="cat",operation="resources/read",outcome="ok"}'
        in metrics
    )


@pytest.mark.parametrize("mode", MODES)
async def test_a_database_offers_its_tables_and_named_queries_as_resources(setup: Setup, mode: str) -> None:
    async with mcp_client(setup.gateway.mcp_url, setup.reader, mode=mode) as client:
        assert "broker://db/tables" in [r.uri for r in (await client.list_resources()).resources]

        async def read_json(uri: str) -> Any:
            content = (await client.read_resource(uri)).contents[0]
            assert isinstance(content, types.TextResourceContents) and content.uri == uri
            return json.loads(content.text)

        assert [t["name"] for t in (await read_json("broker://db/tables"))["tables"]] == ["customers"]
        table = await read_json("broker://db/tables/customers")
        assert [c["name"] for c in table["table"]["columns"]] == ["id", "city", "email"]
        assert len(table["sample"]["rows"]) == 20 and table["sample"]["truncated"] is True  # bounded
        assert EMAIL not in json.dumps(table)  # masked like any result
        rows = await read_json("broker://db/queries/by_city?city=Berlin")
        assert [row[1] for row in rows["rows"]] == ["Berlin"] * 3
        for uri in ("broker://db/tables/nope", "broker://db/tables/customers; DROP TABLE customers"):
            error = await refused(client.read_resource(uri))
            assert "no table or view named" in error.error.message


async def test_an_http_connector_declares_get_endpoints_as_resources(setup: Setup) -> None:
    async with mcp_client(setup.gateway.mcp_url, setup.reader) as client:
        content = (await client.read_resource("broker://wx/cities/Paris/current")).contents[0]
        assert isinstance(content, types.TextResourceContents)
        assert content.mime_type == "application/json" and json.loads(content.text)["city"] == "Paris"
        error = await refused(client.read_resource("broker://wx/cities/Paris/forecast"))
        assert error.error.code == types.INVALID_PARAMS
    bad = setup.gateway.admin.post(
        "/admin/connectors",
        json={
            **http_connector("http://x"),
            "name": "wx2",
            "resources": [{"uri": "a/{b}", "tool": "current", "name": "n"}],
        },
    )
    assert bad.status_code == 422 and "'b' is not an argument of tool 'current'" in bad.text.replace(
        "b is", "'b' is"
    )
