"""Tracing on: spans per request and per pipeline stage reach an OTLP/HTTP collector (a small
server on loopback decoding the protobuf), with GenAI attributes on model calls and the
trace id in audit records, the ledger and replies."""

from __future__ import annotations

import gzip
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from broker.demo.upstreams.llm import MockLLM, create_llm_app
from broker.demo.upstreams.serve import BackgroundServer
from tests.admin.conftest import weather_connector
from tests.conftest import start_gateway
from tests.e2e.helpers import mcp_client
from tests.llm.conftest import PROVIDER_KEY, mock_document


class Collector:
    def __init__(self) -> None:
        self.spans: list[dict[str, Any]] = []

    def app(self) -> Starlette:
        async def traces(request: Request) -> Response:
            body = await request.body()
            if request.headers.get("content-encoding") == "gzip":
                body = gzip.decompress(body)
            export = ExportTraceServiceRequest.FromString(body)
            for resource in export.resource_spans:
                for scope in resource.scope_spans:
                    for span in scope.spans:
                        attributes = {a.key: _value(a.value) for a in span.attributes}
                        self.spans.append(
                            {"name": span.name, "trace_id": span.trace_id.hex(), "attributes": attributes}
                        )
            return Response(
                ExportTraceServiceRequest().SerializeToString(), media_type="application/x-protobuf"
            )

        return Starlette(routes=[Route("/v1/traces", traces, methods=["POST"])])


def _value(value: Any) -> Any:
    return getattr(value, value.WhichOneof("value")) if value.WhichOneof("value") else None


@pytest.fixture
def collector() -> Iterator[tuple[Collector, str]]:
    found = Collector()
    with BackgroundServer(found.app()) as server:
        yield found, server.url


async def test_spans_reach_the_collector(
    tmp_path: Path, collector: tuple[Collector, str], weather_upstream: str
) -> None:
    spans, url = collector
    mock = MockLLM(api_key=PROVIDER_KEY)
    with BackgroundServer(create_llm_app(mock)) as provider:
        server, gateway = start_gateway(
            f"sqlite:///{tmp_path / 'b.db'}",
            otlp_endpoint=url,
            llm_provider_keys={"MOCK_KEY": SecretStr(PROVIDER_KEY)},
        )
        try:
            gateway.admin.post(
                "/admin/connectors", json=weather_connector(weather_upstream)
            ).raise_for_status()
            key = gateway.create_agent("bot")
            policy = {"name": "bot", "agents": ["bot"], "allow": ["weather.*"], "models": {"allow": ["*"]}}
            gateway.admin.post("/admin/policies", json={"policies": [policy]}).raise_for_status()
            gateway.admin.post("/admin/llm/apply", json=mock_document(provider.url)).raise_for_status()

            async with mcp_client(gateway.mcp_url, key) as client:
                result = await client.call_tool("weather.current", {"city": "Paris"})
            assert not result.is_error
            chat = {"model": "fast", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5}
            answer = httpx.post(
                f"{gateway.url}/v1/chat/completions", json=chat, headers={"Authorization": f"Bearer {key}"}
            )
            assert answer.status_code == 200
            refused = httpx.post(
                f"{gateway.url}/v1/chat/completions", json=chat, headers={"Authorization": "Bearer nope"}
            )
            assert refused.status_code == 401 and len(refused.headers["x-trace-id"]) == 32

            deadline = time.monotonic() + 10
            while not (audit := gateway.admin.get("/admin/audit").json()):
                assert time.monotonic() < deadline
                time.sleep(0.05)
            audit_trace = audit[0]["trace_id"]
        finally:
            gateway.admin.close()
            server.stop()  # flushes the spans still queued

    names = {span["name"] for span in spans.spans}
    assert {
        "POST /mcp",
        "stage audit",
        "stage authorize",
        "stage mask_pii",
        "stage resilience",
        "upstream",
    } <= names
    assert any(s["trace_id"] == audit_trace and s["name"] == "stage audit" for s in spans.spans)
    (model_span,) = [s for s in spans.spans if "gen_ai.request.model" in s["attributes"]]
    attributes = model_span["attributes"]
    assert attributes["gen_ai.operation.name"] == "chat" and attributes["gen_ai.provider.name"] == "openai"
    assert attributes["gen_ai.usage.output_tokens"] == 5
    assert model_span["trace_id"] == answer.headers["x-trace-id"]
    assert refused.headers["x-trace-id"] in {s["trace_id"] for s in spans.spans}
