"""Who may use /admin: the admin token only, and never by default."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from broker.app import create_app
from broker.demo.upstreams.serve import BackgroundServer
from broker.settings import Settings
from tests.admin.conftest import error_of
from tests.conftest import POSTGRES_ADMIN_URL, RunningGateway, free_port, start_gateway

ENDPOINTS = [
    ("GET", "/admin/agents"),
    ("POST", "/admin/agents"),
    ("GET", "/admin/connectors"),
    ("POST", "/admin/apply"),
    ("GET", "/admin/policies"),
    ("GET", "/admin/audit"),
    ("GET", "/admin/no-such-endpoint"),
]


@pytest.fixture
def unconfigured(tmp_path: Path) -> Iterator[str]:
    """A gateway started without BROKER_ADMIN_TOKEN."""
    port = free_port()
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'broker.db'}", port=port, admin_token=None)
    with BackgroundServer(create_app(settings), port=port, startup_timeout=30) as server:
        yield server.url


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_requests_without_the_admin_token_get_401_with_a_challenge(
    gateway: RunningGateway, method: str, path: str
) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong-token"}, {"Authorization": "Basic YWRtaW46YWRtaW4="}):
        response = httpx.request(method, gateway.url + path, headers=headers, json={"name": "x"})
        error = error_of(response, 401)
        assert error["code"] == "unauthorized"
        assert response.headers["www-authenticate"] == "Bearer"


def test_the_token_is_checked_before_the_body_is_parsed(gateway: RunningGateway) -> None:
    response = httpx.post(
        gateway.url + "/admin/agents", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    error_of(response, 401)


def test_an_agent_key_never_opens_the_admin_api(gateway: RunningGateway) -> None:
    key = gateway.create_agent("support-bot")
    response = httpx.get(gateway.url + "/admin/agents", headers={"Authorization": f"Bearer {key}"})
    assert "agent keys cannot use the admin API" in error_of(response, 401)["message"]


def test_without_a_configured_token_the_admin_api_is_off(unconfigured: str) -> None:
    for headers in ({}, {"Authorization": "Bearer anything"}):
        response = httpx.get(unconfigured + "/admin/agents", headers=headers)
        error = error_of(response, 503)
        assert error["code"] == "not_configured"
        assert "BROKER_ADMIN_TOKEN" in error["message"]


def test_unknown_admin_paths_answer_json_404(gateway: RunningGateway) -> None:
    error = error_of(gateway.admin.get("/admin/nothing/here"), 404)
    assert "no admin endpoint GET /admin/nothing/here" in error["message"]


def test_the_openapi_schema_documents_every_endpoint_and_body(gateway: RunningGateway) -> None:
    schema = httpx.get(gateway.url + "/admin/openapi.json").json()
    paths = schema["paths"]
    for path in (
        "/admin/connectors",
        "/admin/connectors/{name}/tools",
        "/admin/agents/{name}/keys/{key_id}/rotate",
        "/admin/policies/explain",
        "/admin/apply",
        "/admin/audit",
        "/admin/tools",
    ):
        assert path in paths
    apply_body = paths["/admin/apply"]["post"]["requestBody"]["content"]
    assert set(apply_body) == {"application/json", "application/yaml"}
    document = apply_body["application/yaml"]["schema"]
    assert document["additionalProperties"] is False
    assert "$ref" not in str(
        document["properties"]["policies"]
    )  # inlined: pydantic's $defs mean nothing here
    create = paths["/admin/agents"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    agent_schema = schema["components"]["schemas"][create["$ref"].rsplit("/", 1)[1]]
    assert agent_schema["properties"]["name"]["description"]
    assert "HTTPBearer" in schema["components"]["securitySchemes"]


def test_the_admin_api_answers_503_while_the_database_is_unreachable(postgres_url: str) -> None:
    server, gateway = start_gateway(postgres_url)
    try:
        assert gateway.admin.get("/admin/agents").status_code == 200
        name = postgres_url.rsplit("/", 1)[1]
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        for path in ("/admin/agents", "/admin/connectors"):
            response = gateway.admin.get(path)
            assert response.status_code == 503, response.text
            error = response.json()["error"]
            assert error["code"] == "database_unavailable" and "database is unreachable" in error["message"]
        created = gateway.admin.post("/admin/agents", json={"name": "later"})
        assert created.status_code == 503
    finally:
        gateway.admin.close()
        server.stop()
