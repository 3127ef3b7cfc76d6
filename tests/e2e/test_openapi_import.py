"""Importing real-sized OpenAPI documents through the admin API: Stripe-like form-encoded
operations called end to end, GitHub-like size, and a gateway that keeps serving meanwhile."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from broker.demo.upstreams.serve import BackgroundServer
from tests.admin.conftest import weather_connector
from tests.conftest import RunningGateway
from tests.connectors import specgen
from tests.e2e.helpers import mcp_client


async def _create(request: Request) -> JSONResponse:
    """Answers like Stripe: a form body, a required account header, or a 400 saying what is wrong."""
    if request.headers.get("content-type") != "application/x-www-form-urlencoded":
        return JSONResponse({"error": f"not a form: {request.headers.get('content-type')}"}, 400)
    if not request.headers.get("stripe-account"):
        return JSONResponse({"error": "Stripe-Account header missing"}, 400)
    form = await request.form()
    return JSONResponse(
        {
            "id": "ch_1",
            "account": request.headers["stripe-account"],
            "fields": sorted(form.multi_items()),
        }
    )


@pytest.fixture(scope="module")
def stripe_upstream() -> Iterator[str]:
    app = Starlette(routes=[Route("/v1/resource0", _create, methods=["POST"])])
    with BackgroundServer(app) as server:
        yield server.url


def stripe_spec() -> dict[str, Any]:
    spec = specgen.stripe_like(600)
    spec["paths"]["/v1/files"] = {
        "post": {
            "operationId": "PostFiles",
            "requestBody": {"required": True, "content": {"application/octet-stream": {"schema": {}}}},
            "responses": {"200": {"description": "ok"}},
        }
    }
    return spec


def _grant(gateway: RunningGateway, connector: str) -> str:
    gateway.admin.post("/admin/agents", json={"name": "payer"}).raise_for_status()
    policy = {"policies": [{"name": "payer", "agents": ["payer"], "allow": [f"{connector}.*"]}]}
    gateway.admin.post("/admin/policies", json=policy).raise_for_status()
    key: str = gateway.admin.post("/admin/agents/payer/keys", json={"label": "t"}).json()["key"]
    return key


async def test_a_stripe_sized_form_encoded_api_imports_and_its_operations_work(
    gateway: RunningGateway, stripe_upstream: str
) -> None:
    config = {
        "kind": "openapi",
        "name": "stripe",
        "spec": stripe_spec(),
        "base_url": stripe_upstream,
        "allow_private_network": True,
    }
    response = gateway.admin.post("/admin/connectors", json=config, timeout=300)  # seconds on a busy machine
    assert response.status_code == 201, response.text
    change = response.json()
    assert len(change["tools"]) == 600
    assert change["warnings"] == [
        "operation 'PostFiles' (POST /v1/files) was not imported: its request body is "
        "application/octet-stream; only JSON, form-urlencoded and multipart bodies are supported"
    ]
    key = _grant(gateway, "stripe")
    async with mcp_client(gateway.mcp_url, key) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        create = tools["stripe.PostResource00"]
        assert "Stripe-Account" in create.input_schema["required"], "a required header is an argument"
        result = await client.call_tool(
            "stripe.PostResource00",
            {
                "Stripe-Account": "acct_42",
                "metadata": {"order": "7", "note": "a&b"},
                "expand": ["customer", "invoice"],
                "param_0": 5,
                "param_1": "blue",
            },
        )
        assert not result.is_error, result.content
        assert result.structured_content == {
            "id": "ch_1",
            "account": "acct_42",
            "fields": [
                ["expand", "customer"],
                ["expand", "invoice"],
                ["metadata[note]", "a&b"],
                ["metadata[order]", "7"],
                ["param_0", "5"],
                ["param_1", "blue"],
            ],
        }
        missing = await client.call_tool("stripe.PostResource00", {"param_0": 5})
        assert missing.is_error, "the required header argument is checked before the upstream"


def test_too_many_operations_is_refused_naming_the_setting(gateway: RunningGateway) -> None:
    config = {"kind": "openapi", "name": "flat", "spec": specgen.flat(2_001)}
    response = gateway.admin.post("/admin/connectors", json=config, timeout=300)
    assert response.status_code == 422, response.text
    message = response.json()["error"]["message"]
    assert "2001 operations" in message and "BROKER_OPENAPI_MAX_OPERATIONS" in message


async def test_the_gateway_keeps_serving_while_a_github_sized_import_runs(
    gateway: RunningGateway, weather_upstream: str
) -> None:
    gateway.admin.post("/admin/connectors", json=weather_connector(weather_upstream)).raise_for_status()
    key = _grant(gateway, "weather")
    config = {"kind": "openapi", "name": "github", "spec": specgen.github_like(1000)}
    events: list[str] = []
    outcome: dict[str, Any] = {}
    done = threading.Event()

    def run_import() -> None:
        with httpx.Client(base_url=gateway.url, headers=gateway.admin.headers, timeout=300) as admin:
            response = admin.post("/admin/connectors", json=config)
        outcome["answered before the import"] = list(events)
        outcome["status"] = response.status_code
        done.set()

    async with mcp_client(gateway.mcp_url, key) as client, httpx.AsyncClient(base_url=gateway.url) as http:
        importer = threading.Thread(target=run_import)
        importer.start()
        await asyncio.sleep(0.3)  # the upload is under way (a few MB)
        while not done.is_set():
            if (await http.get("/healthz")).status_code == 200:
                events.append("healthz")
            result = await client.call_tool("weather.current", {"city": "Paris"})
            events.append("call ok" if not result.is_error else "call failed")
            await asyncio.sleep(0.05)  # polling, not flooding: the import shares these 2 cores
        importer.join()
    assert outcome["status"] == 201
    answered = outcome["answered before the import"]
    assert answered.count("healthz") >= 2 and "call ok" in answered and "call failed" not in answered, events
    assert len(gateway.admin.get("/admin/connectors/github/tools").json()) == 1000
