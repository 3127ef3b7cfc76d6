"""The demo CRM's optional bearer-token authentication."""

import httpx
import pytest
from fastapi import FastAPI

from broker.demo.upstreams import create_crm_app
from tests.demo.conftest import TOKEN, client_for

ROUTES = [
    ("GET", "/crm/v3/objects/contacts", None),
    ("GET", "/crm/v3/objects/contacts/1001", None),
    ("POST", "/crm/v3/objects/contacts/search", {"query": "acme"}),
    ("GET", "/crm/v3/objects/companies", None),
    ("GET", "/crm/v3/objects/deals", None),
    ("GET", "/crm/v3/reports/top-customers", None),
]


def assert_unauthorized(response: httpx.Response) -> None:
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    body = response.json()
    assert body["status"] == "error"
    assert body["message"].startswith("Authentication credentials not found")


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-token"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": TOKEN},
    ],
    ids=["no-header", "wrong-token", "basic-scheme", "no-scheme"],
)
def test_routes_need_the_token(
    secured_crm_url: str, method: str, path: str, body: object, headers: dict[str, str]
) -> None:
    with client_for(secured_crm_url, headers=headers) as client:
        assert_unauthorized(client.request(method, path, json=body))


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
def test_routes_accept_the_token(secured_crm_url: str, method: str, path: str, body: object) -> None:
    with client_for(secured_crm_url, headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        assert client.request(method, path, json=body).status_code == 200


def test_note_needs_the_token(secured_crm_url: str, secured_crm_app: FastAPI) -> None:
    note = {"contact_id": "1001", "body": "Sneaky"}
    with client_for(secured_crm_url) as client:
        assert_unauthorized(client.post("/crm/v3/objects/notes", json=note))
    assert secured_crm_app.state.dataset.notes == []
    with client_for(secured_crm_url, headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        assert client.post("/crm/v3/objects/notes", json=note).status_code == 201


def test_health_and_openapi_are_open(secured_crm_url: str) -> None:
    with client_for(secured_crm_url) as client:
        assert client.get("/healthz").status_code == 200
        assert client.get("/openapi.json").status_code == 200


def test_auth_is_checked_before_validation(secured_crm_url: str) -> None:
    with client_for(secured_crm_url) as client:
        assert_unauthorized(client.get("/crm/v3/objects/contacts", params={"limit": 0}))


def test_without_a_configured_token_no_header_is_needed(crm: httpx.Client) -> None:
    assert crm.get("/crm/v3/objects/contacts").status_code == 200
    assert (
        crm.get("/crm/v3/objects/contacts", headers={"Authorization": "Bearer anything"}).status_code == 200
    )


def test_empty_token_is_refused() -> None:
    with pytest.raises(ValueError, match="api_token"):
        create_crm_app(api_token="")
