"""Each demo upstream's /openapi.json names and describes every route well enough to become tools."""

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from broker.demo.upstreams import BackgroundServer, create_crm_app, create_weather_app
from tests.demo.conftest import TOKEN, client_for

WEATHER_OPERATIONS = {
    ("get", "/v1/current"): "get_current_weather",
    ("get", "/v1/forecast"): "get_forecast",
}
CRM_OPERATIONS = {
    ("get", "/crm/v3/objects/contacts"): "list_contacts",
    ("get", "/crm/v3/objects/contacts/{contact_id}"): "get_contact",
    ("post", "/crm/v3/objects/contacts/search"): "search_contacts",
    ("get", "/crm/v3/objects/companies"): "list_companies",
    ("get", "/crm/v3/objects/deals"): "list_deals",
    ("get", "/crm/v3/reports/top-customers"): "get_top_customers",
    ("post", "/crm/v3/objects/notes"): "create_note",
}
APPS: dict[str, tuple[Callable[[], FastAPI], dict[tuple[str, str], str]]] = {
    "weather": (create_weather_app, WEATHER_OPERATIONS),
    "crm": (create_crm_app, CRM_OPERATIONS),
    "crm-secured": (lambda: create_crm_app(api_token=TOKEN), CRM_OPERATIONS),
}


@pytest.fixture(scope="module", params=list(APPS))
def spec(request: pytest.FixtureRequest) -> Iterator[tuple[str, dict[str, Any]]]:
    factory, _ = APPS[request.param]
    with BackgroundServer(factory()) as server, client_for(server.url) as client:
        yield request.param, client.get("/openapi.json").json()


def operations(document: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(method, path): op for path, item in document["paths"].items() for method, op in item.items()}


def resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref: str = schema["$ref"]
    assert ref.startswith("#/components/schemas/")
    resolved: dict[str, Any] = document["components"]["schemas"][ref.rsplit("/", 1)[1]]
    return resolved


def test_every_route_has_a_stable_operation_id(spec: tuple[str, dict[str, Any]]) -> None:
    name, document = spec
    expected = APPS[name][1]
    assert {key: op["operationId"] for key, op in operations(document).items()} == expected


def test_every_route_has_a_summary_description_and_success_schema(spec: tuple[str, dict[str, Any]]) -> None:
    _, document = spec
    for (method, path), op in operations(document).items():
        assert op["summary"] and op["description"], (method, path)
        success = "201" if path.endswith("/notes") else "200"
        schema = op["responses"][success]["content"]["application/json"]["schema"]
        model = resolve(document, schema)
        assert model["type"] == "object" and model["properties"], (method, path)
        assert "422" in op["responses"]
        if method == "post":
            body = op["requestBody"]["content"]["application/json"]["schema"]
            request_model = resolve(document, body)
            assert request_model["properties"] and request_model["additionalProperties"] is False
        for parameter in op.get("parameters", []):
            assert parameter["description"], (method, path, parameter["name"])


def test_error_answers_are_documented(spec: tuple[str, dict[str, Any]]) -> None:
    name, document = spec
    ops = operations(document)
    not_found = ops[("get", "/v1/current")] if name == "weather" else ops[("post", "/crm/v3/objects/notes")]
    error_model = resolve(document, not_found["responses"]["404"]["content"]["application/json"]["schema"])
    assert error_model["properties"]


def test_health_is_not_a_tool(spec: tuple[str, dict[str, Any]]) -> None:
    _, document = spec
    assert "/healthz" not in document["paths"]


def test_bearer_scheme_is_declared_only_when_a_token_is_set(spec: tuple[str, dict[str, Any]]) -> None:
    name, document = spec
    schemes = document["components"].get("securitySchemes")
    if name != "crm-secured":
        assert schemes is None
        assert all("security" not in op for op in operations(document).values())
        return
    assert schemes == {
        "bearerAuth": {
            "type": "http",
            "scheme": "bearer",
            "description": "Private app access token, sent as `Authorization: Bearer <token>`",
        }
    }
    for op in operations(document).values():
        assert op["security"] == [{"bearerAuth": []}]
        assert "401" in op["responses"]


def test_weather_enums_and_bounds_are_in_the_schema() -> None:
    with BackgroundServer(create_weather_app()) as server, client_for(server.url) as client:
        document = client.get("/openapi.json").json()
    params = {p["name"]: p["schema"] for p in document["paths"]["/v1/forecast"]["get"]["parameters"]}
    assert (params["days"]["minimum"], params["days"]["maximum"]) == (1, 7)
    assert params["units"]["enum"] == ["metric", "imperial"]
    assert document["paths"]["/v1/forecast"]["get"]["parameters"][0]["required"] is True


def test_document_is_served_over_http(crm: httpx.Client) -> None:
    response = crm.get("/openapi.json")
    assert response.headers["content-type"] == "application/json"
    assert response.json()["info"]["title"] == "Demo CRM"
