"""The demo's other upstreams through the gateway: SQL, a federated MCP server, the presets."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import DemoCatalog
from tests.e2e.helpers import mcp_client


@pytest.fixture(scope="module")
def demo(shared_demo: DemoCatalog) -> DemoCatalog:
    """These tests only list and call: one demo gateway serves the module."""
    return shared_demo


async def test_sql_named_query_and_read_only_free_query(demo: DemoCatalog) -> None:
    async with mcp_client(demo.gateway.mcp_url, demo.analyst_key) as client:
        top = await client.call_tool("crm_db.revenue_by_customer", {"limit": 3})
        refused = await client.call_tool("crm_db.query", {"sql": "DELETE FROM deals"})
        counted = await client.call_tool("crm_db.query", {"sql": "SELECT count(*) AS n FROM deals"})
    assert top.is_error is False and top.structured_content is not None
    assert top.structured_content["columns"] == ["customer", "country", "revenue", "deals"]
    assert len(top.structured_content["rows"]) == 3
    assert refused.is_error is True and "refused" in refused.content[0].text  # type: ignore[union-attr]
    assert counted.structured_content is not None and counted.structured_content["rows"] == [[20]]


async def test_the_federated_mcp_server_answers_with_its_structured_output(demo: DemoCatalog) -> None:
    async with mcp_client(demo.gateway.mcp_url, demo.support_key) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        found = await client.call_tool("docs.search_articles", {"query": "refund"})
        missing = await client.call_tool("docs.get_article", {"article_id": "kb-999"})
    assert tools["docs.search_articles"].output_schema is not None
    assert tools["docs.search_articles"].annotations is not None
    assert found.structured_content is not None
    assert [a["id"] for a in found.structured_content["results"]] == ["kb-102"]
    assert missing.is_error is True and "kb-999" in missing.content[0].text  # type: ignore[union-attr]


async def test_presets_reach_their_upstreams_with_the_stored_token(demo: DemoCatalog) -> None:
    async with mcp_client(demo.gateway.mcp_url, demo.support_key) as client:
        city = await client.call_tool("meteo-geo.find_city", {"name": "Paris", "count": 1})
        assert city.structured_content is not None
        place = city.structured_content["results"][0]
        weather = await client.call_tool(
            "meteo.current", {"latitude": place["latitude"], "longitude": place["longitude"]}
        )
        contact = await client.call_tool("hubspot.find_contact", {"query": "a", "limit": 1})
    assert (
        weather.structured_content is not None and "temperature_2m" in weather.structured_content["current"]
    )
    assert contact.is_error is False, contact.content
    assert contact.structured_content is not None and contact.structured_content["results"]
