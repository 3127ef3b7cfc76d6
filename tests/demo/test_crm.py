"""The demo CRM over HTTP: HubSpot shapes, paging, search, deals, the report, notes."""

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from broker.demo.upstreams import BackgroundServer, create_crm_app
from tests.demo.conftest import client_for

CONTACTS = "/crm/v3/objects/contacts"


def all_pages(client: httpx.Client, path: str, limit: int, **params: str) -> list[list[dict[str, Any]]]:
    """Every page of a listing, following paging.next.after."""
    pages: list[list[dict[str, Any]]] = []
    after: str | None = None
    while True:
        query = {**params, "limit": str(limit)} | ({"after": after} if after else {})
        body = client.get(path, params=query).json()
        pages.append(body["results"])
        if "paging" not in body:
            return pages
        after = body["paging"]["next"]["after"]


def search(client: httpx.Client, query: str, **extra: Any) -> dict[str, Any]:
    response = client.post(f"{CONTACTS}/search", json={"query": query, **extra})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_objects_are_hubspot_shaped(crm: httpx.Client) -> None:
    for path in (CONTACTS, "/crm/v3/objects/companies", "/crm/v3/objects/deals"):
        for obj in crm.get(path, params={"limit": 100}).json()["results"]:
            assert set(obj) == {"id", "properties", "createdAt", "updatedAt", "archived"}
            assert obj["archived"] is False
            assert obj["properties"]["hs_object_id"] == obj["id"]
            assert obj["createdAt"] < obj["updatedAt"]
            assert all(isinstance(value, str) for value in obj["properties"].values())


def test_contacts_page_through_all_25(crm: httpx.Client) -> None:
    pages = all_pages(crm, CONTACTS, limit=10)
    assert [len(page) for page in pages] == [10, 10, 5]
    ids = [contact["id"] for page in pages for contact in page]
    assert ids == [str(n) for n in range(1001, 1026)]
    assert crm.get(CONTACTS).json()["paging"] == {"next": {"after": "10"}}


def test_contacts_data_is_realistic(crm: httpx.Client) -> None:
    contacts = crm.get(CONTACTS, params={"limit": 100}).json()["results"]
    companies = crm.get("/crm/v3/objects/companies", params={"limit": 100}).json()["results"]
    domains = {c["properties"]["name"]: c["properties"]["domain"] for c in companies}
    assert len({c["properties"]["email"] for c in contacts}) == 25
    for contact in contacts:
        p = contact["properties"]
        assert p["phone"].startswith("+") and sum(ch.isdigit() for ch in p["phone"]) >= 10
        assert p["email"].endswith("@" + domains[p["company"]])
        assert p["email"].isascii()
    assert len({c["properties"]["country"] for c in contacts}) == 10


def test_limit_and_cursor_edges(crm: httpx.Client) -> None:
    everything = crm.get(CONTACTS, params={"limit": 100}).json()
    assert len(everything["results"]) == 25 and "paging" not in everything
    assert crm.get(CONTACTS, params={"after": "1000"}).json() == {"results": []}
    for bad in ({"limit": 0}, {"limit": 101}, {"after": "abc"}, {"after": "-1"}):
        assert crm.get(CONTACTS, params=bad).status_code == 422


def test_get_contact(crm: httpx.Client) -> None:
    first = crm.get(CONTACTS, params={"limit": 1}).json()["results"][0]
    assert crm.get(f"{CONTACTS}/{first['id']}").json() == first


@pytest.mark.parametrize("contact_id", ["999999", "abc"])
def test_missing_contact_is_404(crm: httpx.Client, contact_id: str) -> None:
    response = crm.get(f"{CONTACTS}/{contact_id}")
    assert response.status_code == 404
    body = response.json()
    assert body["status"] == "error"
    assert body["category"] == "OBJECT_NOT_FOUND"
    assert contact_id in body["message"]


def test_fresh_apps_hold_identical_data(crm: httpx.Client) -> None:
    with BackgroundServer(create_crm_app()) as other, client_for(other.url) as client:
        for path in (CONTACTS, "/crm/v3/objects/companies", "/crm/v3/objects/deals"):
            params = {"limit": 100}
            assert client.get(path, params=params).json() == crm.get(path, params=params).json()


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("acme", {"Maria", "James", "Priya"}),  # company
        ("SAKURA", {"Haruto", "Yui", "Kenji"}),  # case-insensitive
        ("oliver.hughes@thamesfintech.co.uk", {"Oliver"}),  # email
        ("muller", {"Sophie"}),  # accent-insensitive: Müller
        ("maria gonzalez", {"Maria"}),  # every word must match
        ("Kapoor", {"Rohan"}),  # last name
        ("zzz-nobody", set()),
    ],
)
def test_search(crm: httpx.Client, query: str, expected: set[str]) -> None:
    body = search(crm, query)
    assert {c["properties"]["firstname"] for c in body["results"]} == expected
    assert body["total"] == len(expected)


def test_search_pages_and_empty_query(crm: httpx.Client) -> None:
    first = search(crm, "thames", limit=2)
    assert (first["total"], len(first["results"])) == (3, 2)
    rest = search(crm, "thames", limit=2, after=first["paging"]["next"]["after"])
    assert len(rest["results"]) == 1 and "paging" not in rest
    assert search(crm, "", limit=100)["total"] == 25


@pytest.mark.parametrize(
    "body",
    [
        {"query": "x", "limit": 0},
        {"query": "x", "owner": "me"},
        {"query": 5},
        {"query": "x" * 201},
        {"filterGroups": [{"filters": [{"propertyName": "email", "operator": "LIKE", "value": "x"}]}]},
        {"filterGroups": [{"filters": [{"propertyName": "email", "operator": "EQ"}]}]},
        {"filterGroups": [{"filters": [{"propertyName": "email", "operator": "IN"}]}]},
    ],
)
def test_bad_search_is_422(crm: httpx.Client, body: dict[str, Any]) -> None:
    assert crm.post(f"{CONTACTS}/search", json=body).status_code == 422


def test_companies(crm: httpx.Client) -> None:
    body = crm.get("/crm/v3/objects/companies").json()
    assert len(body["results"]) == 10 and "paging" not in body
    props = body["results"][0]["properties"]
    assert props["name"] == "Acme Robotics"
    assert props["domain"] == "acme-robotics.com"
    assert int(props["annualrevenue"]) > 0


def test_deals_and_stage_filter(crm: httpx.Client) -> None:
    deals = [d for page in all_pages(crm, "/crm/v3/objects/deals", limit=7) for d in page]
    assert len(deals) == 20
    company_ids = {c["id"] for c in crm.get("/crm/v3/objects/companies").json()["results"]}
    assert {d["properties"]["company_id"] for d in deals} == company_ids
    won = crm.get("/crm/v3/objects/deals", params={"stage": "closedwon", "limit": 100}).json()["results"]
    assert won == [d for d in deals if d["properties"]["dealstage"] == "closedwon"]
    assert len(won) == 10
    assert crm.get("/crm/v3/objects/deals", params={"stage": "won"}).status_code == 422


def test_top_customers(crm: httpx.Client) -> None:
    report = crm.get("/crm/v3/reports/top-customers").json()["results"]
    assert len(report) == 5
    assert (report[0]["name"], report[0]["closed_won_amount"]) == ("Sakura Logistics K.K.", 540000.0)
    amounts = [row["closed_won_amount"] for row in report]
    assert amounts == sorted(amounts, reverse=True)

    won = crm.get("/crm/v3/objects/deals", params={"stage": "closedwon", "limit": 100}).json()["results"]
    totals: dict[str, float] = {}
    for deal in won:
        company = deal["properties"]["company_id"]
        totals[company] = totals.get(company, 0.0) + float(deal["properties"]["amount"])
    full = crm.get("/crm/v3/reports/top-customers", params={"limit": 100}).json()["results"]
    assert {row["company_id"]: row["closed_won_amount"] for row in full} == totals
    assert len(full) == 9  # one company has no closed-won deal
    assert crm.get("/crm/v3/reports/top-customers", params={"limit": 0}).status_code == 422


def test_create_note(fresh_crm: httpx.Client, fresh_crm_app: FastAPI) -> None:
    response = fresh_crm.post(
        "/crm/v3/objects/notes", json={"contact_id": "1004", "body": "Call back Monday"}
    )
    assert response.status_code == 201
    note = response.json()
    assert note["id"] == "4001"
    assert note["properties"]["hs_note_body"] == "Call back Monday"
    assert note["properties"]["contact_id"] == "1004"
    assert note["archived"] is False
    second = fresh_crm.post("/crm/v3/objects/notes", json={"contact_id": "1004", "body": "Done"}).json()
    assert second["id"] == "4002"
    assert [n.id for n in fresh_crm_app.state.dataset.notes] == ["4001", "4002"]


def test_notes_belong_to_one_app(fresh_crm_app: FastAPI) -> None:
    assert fresh_crm_app.state.dataset.notes == []
    assert create_crm_app().state.dataset.notes == []


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"contact_id": "999999", "body": "hello"}, 404),
        ({"contact_id": "1001", "body": ""}, 422),
        ({"body": "hello"}, 422),
        ({"contact_id": "1001", "body": "hello", "owner": "me"}, 422),
    ],
)
def test_bad_note_is_rejected_and_not_stored(
    fresh_crm: httpx.Client, fresh_crm_app: FastAPI, body: dict[str, str], status: int
) -> None:
    assert fresh_crm.post("/crm/v3/objects/notes", json=body).status_code == status
    assert fresh_crm_app.state.dataset.notes == []


def test_healthz(crm: httpx.Client) -> None:
    assert crm.get("/healthz").json() == {"status": "ok", "service": "demo-crm"}
