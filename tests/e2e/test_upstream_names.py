"""An mcp connector with `prefix: false` keeps its upstream's own names for resources, templates
and prompts: clients read back what they were listed, policies, explain, audit and the cache work
with those names, and registration refuses a second connector that would claim the same ones."""

from __future__ import annotations

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

POLICIES = {
    "policies": [
        {
            "name": "readers",
            "agents": ["reader"],
            "allow": ["*"],
            "resources": {"allow": ["notes://*", "records://*", "broker://*"], "deny": ["notes://secret"]},
            "prompts": {
                "allow": ["greet", "summarise", "cat.*"],
                "constraints": {"greet": {"language": {"enum": ["en", "de"]}}},
            },
            "cache": {"notes://*": {"ttl_seconds": 300}},
        }
    ]
}


@dataclass
class Setup:
    gateway: RunningGateway
    counter: Counter
    upstream: str
    reader: str


def mcp_connector(name: str, url: str, **more: Any) -> dict[str, Any]:
    return {
        "kind": "mcp",
        "name": name,
        "transport": "http",
        "url": url,
        "allow_private_network": True,
        **more,
    }


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    counter = Counter()
    path: Path = tmp_path_factory.mktemp("names")
    with BackgroundServer(build_app(counter)) as upstream:
        server, gateway = start_gateway(f"sqlite:///{path / 'broker.db'}")
        try:
            url = f"{upstream.url}/mcp"
            response = gateway.admin.post("/admin/connectors", json=mcp_connector("cat", url, prefix=False))
            assert response.status_code == 201, response.text
            reader = gateway.create_agent("reader")
            response = gateway.admin.post("/admin/policies", json=POLICIES)
            assert response.status_code < 300, response.text
            yield Setup(gateway, counter, url, reader)
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
async def test_the_upstreams_own_uris_are_listed_and_read_back(setup: Setup, mode: str) -> None:
    async with mcp_client(setup.gateway.mcp_url, setup.reader, mode=mode) as client:
        listed = [resource.uri for resource in (await client.list_resources()).resources]
        assert listed == ["notes://contact"]  # notes://secret: denied by its verbatim URI
        templates = [t.uri_template for t in (await client.list_resource_templates()).resource_templates]
        assert templates == ["records://customer/{id}"]

        content = (await client.read_resource("notes://contact")).contents[0]
        assert isinstance(content, types.TextResourceContents) and content.uri == "notes://contact"
        assert EMAIL not in content.text  # masked like any result
        record = (await client.read_resource("records://customer/7")).contents[0]  # by the template
        assert isinstance(record, types.TextResourceContents) and record.uri == "records://customer/7"

        for uri in ("notes://secret", "broker://cat/notes://contact", "other://x"):
            error = await refused(client.read_resource(uri))
            assert error.error.code == types.INVALID_PARAMS and "Unknown resource" in error.error.message


@pytest.mark.parametrize("mode", MODES)
async def test_prompts_keep_their_names_and_embedded_uris(setup: Setup, mode: str) -> None:
    async with mcp_client(setup.gateway.mcp_url, setup.reader, mode=mode) as client:
        assert sorted(p.name for p in (await client.list_prompts()).prompts) == ["greet", "summarise"]
        got = await client.get_prompt("greet", {"name": "Ada", "language": "de"})
        assert isinstance(got.messages[0].content, types.TextContent)
        denied = await refused(client.get_prompt("greet", {"name": "Ada", "language": "fr"}))
        assert denied.error.code == types.INVALID_PARAMS and "'language'" in denied.error.message
        embedded = await client.get_prompt("summarise", {"resource_uri": "notes://contact"})
        block = embedded.messages[0].content
        assert isinstance(block, types.EmbeddedResource) and block.resource.uri == "notes://contact"
        ids = await client.complete(
            types.ResourceTemplateReference(type="ref/resource", uri="records://customer/{id}"),
            {"name": "id", "value": "4"},
        )
        assert ids.completion.values == ["42"]


async def test_cache_audit_and_explain_use_the_verbatim_names(setup: Setup) -> None:
    async with mcp_client(setup.gateway.mcp_url, setup.reader) as client:
        before = setup.counter.reads
        await client.read_resource("notes://contact")
        await client.read_resource("notes://contact")
        assert setup.counter.reads - before <= 1  # the policy's verbatim cache pattern applies
    audit = setup.gateway.admin.get(
        "/admin/audit", params={"operation": "resources/read", "agent": "reader", "limit": 5}
    ).json()
    assert audit[0]["tool"] == "notes://contact" and audit[0]["outcome"] == "ok"

    def explain(**target: str) -> dict[str, Any]:
        response = setup.gateway.admin.post("/admin/policies/explain", json={"agent": "reader", **target})
        assert response.status_code == 200, response.text
        found: dict[str, Any] = response.json()
        return found

    granted = explain(resource="notes://contact")
    assert granted["allowed"] and granted["tool_exists"] and granted["visible"]
    denied = explain(resource="notes://secret")
    assert not denied["allowed"] and "notes://secret" in denied["reason"]
    assert explain(resource="records://customer/9")["tool_exists"]  # a template produces it
    assert explain(prompt="greet")["visible"]


def test_a_second_connector_claiming_the_same_names_is_refused(setup: Setup) -> None:
    response = setup.gateway.admin.post(
        "/admin/connectors", json=mcp_connector("twin", setup.upstream, prefix=False)
    )
    assert response.status_code == 409, response.text
    message = response.json()["error"]["message"]
    assert "connector 'twin'" in message and "connector 'cat'" in message
    assert "its prompt 'greet' is also a prompt of connector 'cat'" in message
    assert "its resource 'notes://contact' is also a resource of connector 'cat'" in message
    assert "records://customer/{id}" in message and "prefix: true" in message
    # Kept in its namespace, the same upstream joins without a clash.
    response = setup.gateway.admin.post("/admin/connectors", json=mcp_connector("twin", setup.upstream))
    assert response.status_code == 201, response.text
    setup.gateway.admin.delete("/admin/connectors/twin").raise_for_status()
