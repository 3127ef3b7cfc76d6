from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi import FastAPI

from broker.demo import run
from broker.demo.crm_db import create_crm_database
from broker.demo.upstreams.crm import create_crm_app
from broker.demo.upstreams.serve import BackgroundServer
from tests.conftest import RunningGateway, start_gateway
from tests.e2e.helpers import demo_document


@dataclass
class DemoCatalog:
    gateway: RunningGateway
    crm_app: FastAPI
    support_key: str
    analyst_key: str


@pytest.fixture
def crm_app() -> FastAPI:
    return create_crm_app()


@pytest.fixture
def crm_server(crm_app: FastAPI) -> Iterator[str]:
    with BackgroundServer(crm_app) as server:
        yield server.url


HUBSPOT_TOKEN = "hubspot-private-app-token-for-tests"


@pytest.fixture(scope="session")
def hubspot_upstream() -> Iterator[str]:
    with BackgroundServer(create_crm_app(api_token=HUBSPOT_TOKEN)) as server:
        yield server.url


def apply_demo(
    gateway: RunningGateway,
    weather_upstream: str,
    crm_url: str,
    crm_app: FastAPI,
    hubspot_upstream: str,
    directory: Path,
) -> DemoCatalog:
    """The demo's own document applied through the admin API, with a key per agent."""
    secret = gateway.admin.put(f"/admin/secrets/{run.HUBSPOT_SECRET}", json={"value": HUBSPOT_TOKEN})
    assert secret.status_code in (200, 201), secret.text
    document = demo_document(
        weather_upstream, crm_url, hubspot_upstream, create_crm_database(directory / "crm.db")
    )
    response = gateway.admin.post("/admin/apply", json=document)
    assert response.status_code == 200, response.text
    keys = {}
    for name in ("support-bot", "analyst"):
        issued = gateway.admin.post(f"/admin/agents/{name}/keys", json={"label": "e2e"})
        assert issued.status_code in (200, 201), issued.text
        keys[name] = issued.json()["key"]
    return DemoCatalog(gateway, crm_app, keys["support-bot"], keys["analyst"])


@pytest.fixture
def demo(
    gateway: RunningGateway,
    weather_upstream: str,
    crm_server: str,
    crm_app: FastAPI,
    hubspot_upstream: str,
    tmp_path: Path,
) -> DemoCatalog:
    """The demo catalog on a gateway of the test's own: for tests that change agents, keys or
    policies, write to the CRM, or count audit records."""
    return apply_demo(gateway, weather_upstream, crm_server, crm_app, hubspot_upstream, tmp_path)


@pytest.fixture(scope="module")
def shared_demo(
    weather_upstream: str, hubspot_upstream: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DemoCatalog]:
    """The demo catalog on one gateway for a whole module, for tests that only list and call
    (the gateway, its federated MCP server and the demo document take seconds to set up)."""
    directory = tmp_path_factory.mktemp("demo")
    crm_app = create_crm_app()
    with BackgroundServer(crm_app) as crm:
        server, gateway = start_gateway(f"sqlite:///{directory / 'broker.db'}")
        try:
            yield apply_demo(gateway, weather_upstream, crm.url, crm_app, hubspot_upstream, directory)
        finally:
            gateway.admin.close()
            server.stop()
