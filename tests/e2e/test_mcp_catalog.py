"""What an assistant sees through the gateway: its own catalog, enforced on every call."""

from __future__ import annotations

import json

import pytest
from mcp.shared.exceptions import MCPError

from tests.e2e.conftest import DemoCatalog
from tests.e2e.helpers import MODES, mcp_client

SUPPORT_TOOLS = [
    "crm.list_contacts",
    "crm.get_contact",
    "crm.search_contacts",
    "crm.list_deals",
    "crm.create_note",
    "docs.search_articles",
    "docs.get_article",
    "hubspot.find_contact",
    "hubspot.get_contact",
    "hubspot.find_company",
    "hubspot.get_company",
    "meteo.current",
    "meteo.forecast",
    "meteo-geo.find_city",
    "weather.current",
    "weather.forecast",
]
ANALYST_TOOLS = [
    "crm.list_companies",
    "crm.list_deals",
    "crm.get_top_customers",
    "crm_db.list_tables",
    "crm_db.describe_table",
    "crm_db.query",
    "crm_db.revenue_by_customer",
    "hubspot.get_company",
    "hubspot.top_customers",
    "hubspot.recent_deals",
    "weather.forecast",
]


@pytest.fixture(scope="module")
def demo(shared_demo: DemoCatalog) -> DemoCatalog:
    """These tests only list and call: one demo gateway serves the module."""
    return shared_demo


@pytest.mark.parametrize("mode", MODES)
async def test_each_agent_lists_only_its_granted_tools_in_a_stable_order(
    demo: DemoCatalog, mode: str
) -> None:
    for key, expected in ((demo.support_key, SUPPORT_TOOLS), (demo.analyst_key, ANALYST_TOOLS)):
        async with mcp_client(demo.gateway.mcp_url, key, mode=mode) as client:
            first = await client.list_tools()
            second = await client.list_tools()
        names = [t.name for t in first.tools]
        assert sorted(names) == sorted(expected)
        assert names == [t.name for t in second.tools]
        assert names == sorted(names, key=lambda n: n.split(".")[0])  # grouped by connector
        assert first.cache_scope == "private"


@pytest.mark.parametrize("mode", MODES)
async def test_tool_definitions_carry_schema_description_and_annotations(
    demo: DemoCatalog, mode: str
) -> None:
    async with mcp_client(demo.gateway.mcp_url, demo.support_key, mode=mode) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
    current = tools["weather.current"]
    assert current.description == "Current weather conditions for a city."
    assert current.input_schema["required"] == ["city"]
    assert current.annotations is not None and current.annotations.read_only_hint is True
    assert "query" in json.dumps(tools["crm.search_contacts"].input_schema)


@pytest.mark.parametrize("mode", MODES)
async def test_a_granted_call_returns_the_upstream_answer(demo: DemoCatalog, mode: str) -> None:
    async with mcp_client(demo.gateway.mcp_url, demo.support_key, mode=mode) as client:
        result = await client.call_tool("weather.current", {"city": "Paris"})
        contact = await client.call_tool("crm.get_contact", {"contact_id": "1001"})
    assert result.is_error is False
    assert result.structured_content is not None and result.structured_content["city"] == "Paris"
    assert json.loads(result.content[0].text)["city"] == "Paris"  # type: ignore[union-attr]
    assert contact.is_error is False and contact.structured_content["id"] == "1001"


@pytest.mark.parametrize("mode", MODES)
async def test_a_hidden_tool_is_an_unknown_tool(demo: DemoCatalog, mode: str) -> None:
    async with mcp_client(demo.gateway.mcp_url, demo.analyst_key, mode=mode) as client:
        for name in ("crm.get_contact", "crm.no_such_tool", "nothing"):
            with pytest.raises(MCPError) as caught:
                await client.call_tool(name, {"contact_id": "1001"})
            assert caught.value.code == -32602
            assert name in caught.value.message


@pytest.mark.parametrize("mode", MODES)
async def test_a_call_outside_the_policy_constraints_is_denied_with_the_reason(
    demo: DemoCatalog, mode: str
) -> None:
    async with mcp_client(demo.gateway.mcp_url, demo.analyst_key, mode=mode) as client:
        denied = await client.call_tool("weather.forecast", {"city": "Tokyo", "days": 7})
        allowed = await client.call_tool("weather.forecast", {"city": "Tokyo", "days": 5})
    assert denied.is_error is True
    text = denied.content[0].text  # type: ignore[union-attr]
    assert "days" in text and "5" in text and "analytics" in text
    assert allowed.is_error is False and len(allowed.structured_content["daily"]) == 5


@pytest.mark.parametrize("mode", MODES)
async def test_invalid_arguments_never_reach_the_upstream(demo: DemoCatalog, mode: str) -> None:
    notes_before = len(demo.crm_app.state.dataset.notes)
    async with mcp_client(demo.gateway.mcp_url, demo.support_key, mode=mode) as client:
        result = await client.call_tool("crm.create_note", {"contact_id": 1001})
    assert result.is_error is True
    text = result.content[0].text  # type: ignore[union-attr]
    assert "Invalid arguments for crm.create_note" in text
    assert len(demo.crm_app.state.dataset.notes) == notes_before


@pytest.mark.parametrize("mode", MODES)
async def test_upstream_failures_come_back_as_readable_tool_errors(demo: DemoCatalog, mode: str) -> None:
    async with mcp_client(demo.gateway.mcp_url, demo.support_key, mode=mode) as client:
        missing = await client.call_tool("weather.current", {"city": "Atlantis"})
        gone = await client.call_tool("crm.get_contact", {"contact_id": "999999"})
    assert missing.is_error is True
    assert "weather" in missing.content[0].text and "Atlantis" in missing.content[0].text  # type: ignore[union-attr]
    assert gone.is_error is True and "404" in gone.content[0].text  # type: ignore[union-attr]


async def test_mcp_context_header_narrows_but_never_widens(demo: DemoCatalog) -> None:
    url = demo.gateway.mcp_url
    async with mcp_client(url, demo.support_key, headers={"MCP-Context": "weather"}) as client:
        names = [t.name for t in (await client.list_tools()).tools]
        assert names == ["weather.current", "weather.forecast"]
        with pytest.raises(MCPError):
            await client.call_tool("crm.get_contact", {"contact_id": "1001"})
    async with mcp_client(url, demo.analyst_key, headers={"MCP-Context": "crm, weather"}) as client:
        names = [t.name for t in (await client.list_tools()).tools]
    assert sorted(names) == sorted(t for t in ANALYST_TOOLS if t.split(".")[0] in ("crm", "weather"))
