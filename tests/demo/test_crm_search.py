"""The demo CRM's HubSpot search and object reads, as the hubspot preset calls them."""

from typing import Any

import httpx
import pytest

from tests.demo.conftest import TOKEN, client_for

OBJECTS = "/crm/v3/objects"


def search(client: httpx.Client, object_type: str, **body: Any) -> dict[str, Any]:
    response = client.post(f"{OBJECTS}/{object_type}/search", json=body)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def where(name: str, operator: str, value: Any = None, **extra: Any) -> dict[str, Any]:
    condition = {"propertyName": name, "operator": operator, **extra}
    if value is not None:
        condition["value"] = value
    return condition


def test_top_companies_by_revenue(crm: httpx.Client) -> None:
    body = search(
        crm,
        "companies",
        sorts=[{"propertyName": "annualrevenue", "direction": "DESCENDING"}],
        properties=["name", "annualrevenue"],
        limit=3,
    )
    assert body["total"] == 10 and body["paging"] == {"next": {"after": "3"}}
    names = [r["properties"]["name"] for r in body["results"]]
    assert names == ["Sakura Logistics K.K.", "Bharat Cloud Systems Pvt Ltd", "Nordlicht Energie GmbH"]
    first = body["results"][0]
    assert set(first) == {"id", "properties", "createdAt", "updatedAt", "archived"}
    assert set(first["properties"]) == {
        "name",
        "annualrevenue",
        "hs_object_id",
        "createdate",
        "hs_lastmodifieddate",
    }
    revenues = [int(r["properties"]["annualrevenue"]) for r in body["results"]]
    assert revenues == sorted(revenues, reverse=True)  # numerically, although they are strings


def test_sorted_pages_follow_on(crm: httpx.Client) -> None:
    sort = [{"propertyName": "annualrevenue", "direction": "ASCENDING"}]
    first = search(crm, "companies", sorts=sort, limit=4)
    rest = search(crm, "companies", sorts=sort, limit=100, after=first["paging"]["next"]["after"])
    revenues = [int(r["properties"]["annualrevenue"]) for r in first["results"] + rest["results"]]
    assert len(revenues) == 10 and revenues == sorted(revenues)


def test_recent_deals_in_a_stage(crm: httpx.Client) -> None:
    body = search(
        crm,
        "deals",
        filterGroups=[{"filters": [where("dealstage", "EQ", "closedwon")]}],
        sorts=[{"propertyName": "closedate", "direction": "DESCENDING"}],
        limit=100,
    )
    assert body["total"] == 10
    assert {r["properties"]["dealstage"] for r in body["results"]} == {"closedwon"}
    dates = [r["properties"]["closedate"] for r in body["results"]]
    assert dates == sorted(dates, reverse=True) and dates[0].startswith("2024-12-16")


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ([where("amount", "GT", 250000)], {"3003", "3007", "3015"}),
        ([where("amount", "GTE", "275000"), where("amount", "LT", 400000)], {"3003", "3015"}),
        ([where("closedate", "LT", "2024-03-01")], {"3017"}),
        ([where("closedate", "LTE", 1709251200000)], {"3017"}),  # epoch ms: 2024-03-01
        ([where("dealstage", "IN", values=["contractsent", "CLOSEDLOST"])], {"3002", "3005", "3014", "3016"}),
        ([where("dealname", "CONTAINS_TOKEN", "kubernetes")], {"3018"}),
        ([where("dealname", "CONTAINS_TOKEN", "fleet*")], {"3002"}),
        ([where("dealstage", "NEQ", "closedwon"), where("amount", "GT", 150000)], {"3018"}),
    ],
)
def test_deal_filters(crm: httpx.Client, filters: list[dict[str, Any]], expected: set[str]) -> None:
    body = search(crm, "deals", filterGroups=[{"filters": filters}], limit=100)
    assert {r["id"] for r in body["results"]} == expected


def test_filter_groups_are_ored_and_combined_with_query(crm: httpx.Client) -> None:
    groups = [
        {"filters": [where("email", "CONTAINS_TOKEN", "*@acme-robotics.com")]},
        {"filters": [where("country", "EQ", "jp")]},
    ]
    body = search(crm, "contacts", filterGroups=groups, limit=100, properties=["firstname"])
    assert {r["properties"]["firstname"] for r in body["results"]} == {
        "Maria", "James", "Priya", "Haruto", "Yui", "Kenji",
    }  # fmt: skip
    narrowed = search(crm, "contacts", query="tanaka", filterGroups=groups)
    assert [r["properties"]["firstname"] for r in narrowed["results"]] == ["Yui"]
    missing = search(crm, "contacts", filterGroups=[{"filters": [where("jobtitle", "NOT_HAS_PROPERTY")]}])
    assert missing["total"] == 25


def test_company_search_by_name_or_domain(crm: httpx.Client) -> None:
    assert [r["id"] for r in search(crm, "companies", query="fjord")["results"]] == ["2010"]
    assert [r["id"] for r in search(crm, "companies", query="thamesfintech.co.uk")["results"]] == ["2008"]


def test_contact_read_with_properties(crm: httpx.Client) -> None:
    full = crm.get(f"{OBJECTS}/contacts/1004").json()
    assert full["properties"]["associatedcompanyid"] == "2002"
    some = crm.get(f"{OBJECTS}/contacts/1004", params={"properties": "firstname,email,nosuchproperty"}).json()
    assert some["properties"] == {
        "firstname": "Lukas",
        "email": full["properties"]["email"],
        "hs_object_id": "1004",
        "createdate": full["properties"]["createdate"],
        "lastmodifieddate": full["properties"]["lastmodifieddate"],
    }
    repeated = crm.get(
        f"{OBJECTS}/contacts/1004", params=[("properties", "firstname"), ("properties", "email")]
    )
    assert repeated.json() == some


def test_company_and_deal_reads(crm: httpx.Client) -> None:
    company = crm.get(f"{OBJECTS}/companies/2004").json()
    assert company["properties"]["name"] == "Sakura Logistics K.K."
    some = crm.get(f"{OBJECTS}/companies/2004", params={"properties": "name,annualrevenue"}).json()
    assert some["properties"]["annualrevenue"] == "310000000" and "industry" not in some["properties"]
    assert crm.get(f"{OBJECTS}/deals/3001").json()["properties"]["dealstage"] == "closedwon"
    for path in ("companies/2999", "deals/1"):
        missing = crm.get(f"{OBJECTS}/{path}")
        assert missing.status_code == 404 and missing.json()["category"] == "OBJECT_NOT_FOUND"
    assert crm.get(f"{OBJECTS}/notes/4001").status_code == 422  # not an object type served here


def test_preset_routes_stay_out_of_the_demo_document(crm: httpx.Client) -> None:
    paths = crm.get("/openapi.json").json()["paths"]
    assert f"{OBJECTS}/{{object_type}}/search" not in paths
    assert f"{OBJECTS}/{{object_type}}/{{object_id}}" not in paths
    contact_parameters = paths[f"{OBJECTS}/contacts/{{contact_id}}"]["get"]["parameters"]
    assert [p["name"] for p in contact_parameters] == ["contact_id"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", f"{OBJECTS}/companies/search"),
        ("POST", f"{OBJECTS}/deals/search"),
        ("GET", f"{OBJECTS}/companies/2001"),
    ],
)
def test_preset_routes_need_the_token(secured_crm_url: str, method: str, path: str) -> None:
    body = {} if method == "POST" else None
    with client_for(secured_crm_url) as client:
        assert client.request(method, path, json=body).status_code == 401
    with client_for(secured_crm_url, headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        assert client.request(method, path, json=body).status_code == 200
