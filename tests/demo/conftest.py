"""Demo upstreams served over real loopback HTTP by BackgroundServer, and httpx clients for them."""

from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
from fastapi import FastAPI

from broker.demo.upstreams import BackgroundServer, create_crm_app, create_weather_app

PINNED_NOW = datetime(2025, 1, 15, 14, 30, tzinfo=UTC)
TOKEN = "pat-demo-0123456789"


def pinned_clock() -> datetime:
    return PINNED_NOW


def client_for(url: str, headers: dict[str, str] | None = None) -> httpx.Client:
    """A client for a loopback server that ignores any proxy settings in the environment."""
    return httpx.Client(base_url=url, headers=headers, timeout=10, trust_env=False)


@pytest.fixture(scope="module")
def weather() -> Iterator[httpx.Client]:
    with BackgroundServer(create_weather_app(clock=pinned_clock)) as server, client_for(server.url) as client:
        yield client


@pytest.fixture(scope="module")
def crm() -> Iterator[httpx.Client]:
    """A CRM without authentication, shared by read-only tests."""
    with BackgroundServer(create_crm_app()) as server, client_for(server.url) as client:
        yield client


@pytest.fixture(scope="module")
def secured_crm_app() -> FastAPI:
    return create_crm_app(api_token=TOKEN)


@pytest.fixture(scope="module")
def secured_crm_url(secured_crm_app: FastAPI) -> Iterator[str]:
    with BackgroundServer(secured_crm_app) as server:
        yield server.url


@pytest.fixture
def fresh_crm_app() -> FastAPI:
    """A CRM of one's own, for tests that write notes."""
    return create_crm_app()


@pytest.fixture
def fresh_crm(fresh_crm_app: FastAPI) -> Iterator[httpx.Client]:
    with BackgroundServer(fresh_crm_app) as server, client_for(server.url) as client:
        yield client
