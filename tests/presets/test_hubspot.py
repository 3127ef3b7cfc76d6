"""The hubspot preset end to end: the private-app token from the secret store, injected into
every call an MCP client makes through the gateway, against a local server with HubSpot's
CRM v3 shapes; the token never reaches the agent."""

from __future__ import annotations

from typing import Any

import pytest

from connectors.presets import load_preset
from tests.conftest import RunningGateway
from tests.e2e.helpers import mcp_client
from tests.presets.conftest import HUBSPOT_TOKEN, call, grant

TOOLS = [
    "crm.find_company",
    "crm.find_contact",
    "crm.get_company",
    "crm.get_contact",
    "crm.recent_deals",
    "crm.top_customers",
]
OBJECT_KEYS = {"id", "properties", "createdAt", "updatedAt", "archived"}


def store_token(gateway: RunningGateway, value: str = HUBSPOT_TOKEN, name: str = "hubspot-token") -> None:
    response = gateway.admin.put(f"/admin/secrets/{name}", json={"value": value, "kind": "token"})
    assert response.status_code in (200, 201), response.text


@pytest.fixture
def key(keyed_gateway: RunningGateway, hubspot_url: str) -> str:
    store_token(keyed_gateway)
    configs = load_preset("hubspot", base_url=hubspot_url, allow_private_network=True)
    return grant(keyed_gateway, configs, ["crm.*"])


def assert_search_shape(body: dict[str, Any]) -> None:
    assert isinstance(body["total"], int)
    for result in body["results"]:
        assert set(result) == OBJECT_KEYS
        assert all(value is None or isinstance(value, str) for value in result["properties"].values())


async def test_find_a_contact_then_their_company(keyed_gateway: RunningGateway, key: str) -> None:
    async with mcp_client(keyed_gateway.mcp_url, key) as client:
        assert sorted(t.name for t in (await client.list_tools()).tools) == TOOLS

        found = await call(client, "crm.find_contact", {"query": "acme", "limit": 2})
        assert_search_shape(found)
        assert found["total"] == 3 and found["paging"]["next"]["after"] == "2"
        first = found["results"][0]["properties"]
        assert {"firstname", "lastname", "email", "phone", "company", "associatedcompanyid",
                "lifecyclestage", "hs_object_id"} <= set(first)  # fmt: skip
        rest = await call(client, "crm.find_contact", {"query": "acme", "limit": 2, "after": "2"})
        assert len(rest["results"]) == 1 and "paging" not in rest

        contact = await call(client, "crm.get_contact", {"contact_id": found["results"][0]["id"]})
        assert set(contact) == OBJECT_KEYS
        assert contact["properties"]["email"] == first["email"]
        company = await call(
            client, "crm.get_company", {"company_id": contact["properties"]["associatedcompanyid"]}
        )
        assert company["properties"]["name"] == "Acme Robotics"
        assert {"domain", "industry", "annualrevenue", "country"} <= set(company["properties"])

        companies = await call(client, "crm.find_company", {"query": "sakura"})
        assert [c["properties"]["name"] for c in companies["results"]] == ["Sakura Logistics K.K."]


async def test_top_customers_by_revenue(keyed_gateway: RunningGateway, key: str) -> None:
    async with mcp_client(keyed_gateway.mcp_url, key) as client:
        top = await call(client, "crm.top_customers", {"limit": 3})
        everyone = await call(client, "crm.top_customers", {})
    assert_search_shape(top)
    names = [c["properties"]["name"] for c in top["results"]]
    assert names == ["Sakura Logistics K.K.", "Bharat Cloud Systems Pvt Ltd", "Nordlicht Energie GmbH"]
    revenues = [float(c["properties"]["annualrevenue"]) for c in everyone["results"]]
    assert len(revenues) == 10 and revenues == sorted(revenues, reverse=True)  # HubSpot's default limit


async def test_recent_deals_with_and_without_a_stage(keyed_gateway: RunningGateway, key: str) -> None:
    async with mcp_client(keyed_gateway.mcp_url, key) as client:
        recent = await call(client, "crm.recent_deals", {"limit": 5})
        won = await call(client, "crm.recent_deals", {"stage": "closedwon", "limit": 100})
    assert_search_shape(recent)
    assert recent["total"] == 20
    dates = [d["properties"]["closedate"] for d in recent["results"]]
    assert dates == sorted(dates, reverse=True) and dates[0].startswith("2025-06-30")
    assert {"dealname", "amount", "dealstage", "closedate", "pipeline"} <= set(
        recent["results"][0]["properties"]
    )
    assert won["total"] == 10
    assert {d["properties"]["dealstage"] for d in won["results"]} == {"closedwon"}


async def test_the_token_is_injected_and_never_seen(keyed_gateway: RunningGateway, key: str) -> None:
    async with mcp_client(keyed_gateway.mcp_url, key) as client:
        for tool, arguments in (
            ("crm.find_contact", {"query": HUBSPOT_TOKEN}),  # an agent echoing it gets nothing back
            ("crm.get_contact", {"contact_id": "999999"}),
        ):
            result = await client.call_tool(tool, arguments)
            assert HUBSPOT_TOKEN not in result.model_dump_json()
        store_token(keyed_gateway, "pat-na1-revoked-token-000000000")  # rotated to a token HubSpot refuses
        refused = await client.call_tool("crm.top_customers", {"limit": 1})
        assert refused.is_error
        text = refused.model_dump_json()
        assert "401" in text and "revoked" not in text and HUBSPOT_TOKEN not in text
    audit = keyed_gateway.admin.get("/admin/audit", params={"limit": 100})
    assert audit.status_code == 200 and HUBSPOT_TOKEN not in audit.text
