from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi import FastAPI

from broker.demo.upstreams.crm import create_crm_app
from broker.demo.upstreams.serve import BackgroundServer
from tests.conftest import RunningGateway
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


@pytest.fixture
def demo(gateway: RunningGateway, weather_upstream: str, crm_server: str, crm_app: FastAPI) -> DemoCatalog:
    """The demo's own document applied through the admin API, with a key per agent."""
    response = gateway.admin.post("/admin/apply", json=demo_document(weather_upstream, crm_server))
    assert response.status_code == 200, response.text
    keys = {}
    for name in ("support-bot", "analyst"):
        issued = gateway.admin.post(f"/admin/agents/{name}/keys", json={"label": "e2e"})
        assert issued.status_code in (200, 201), issued.text
        keys[name] = issued.json()["key"]
    return DemoCatalog(gateway, crm_app, keys["support-bot"], keys["analyst"])
