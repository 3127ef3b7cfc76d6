"""Composes the ASGI app: the admin API, /metrics and /healthz, the LLM proxy at /v1, and MCP at /mcp."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from importlib.metadata import version
from urllib.parse import urlsplit

from fastapi import FastAPI
from mcp.server.auth.settings import AuthSettings
from mcp.server.transport_security import TransportSecuritySettings
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from broker.admin import admin_router, install_error_handlers
from broker.gateway import Gateway
from broker.llm.proxy import ProxyFirst
from broker.llm.runtime import LlmRuntime
from broker.mcp import transport as mcp_transport
from broker.mcp.auth import AgentKeyVerifier
from broker.mcp.server import build_server
from broker.settings import Settings
from broker.store.migrate import upgrade

VERSION = version("tool-broker")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    gateway = Gateway.from_settings(settings)
    llm = LlmRuntime.from_gateway(gateway)
    public_url = settings.resolved_public_url

    server = build_server(lambda: gateway.state.snapshot, gateway.pipeline, version=VERSION)
    mcp_app = server.streamable_http_app(
        streamable_http_path="/mcp",
        json_response=False,  # broker.mcp.transport: 2025 sessions stream, 2026-07-28 answers JSON
        stateless_http=False,
        max_request_body_size=settings.max_request_bytes,
        transport_security=_transport_security(settings),
        token_verifier=AgentKeyVerifier(lambda: gateway.state.snapshot),
        auth=AuthSettings(
            issuer_url=public_url,
            resource_server_url=f"{public_url}/mcp",
            validate_token_resource=False,  # agent keys are ours, bound to this gateway by construction
        ),
    )

    mcp_transport.install(server.session_manager)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if settings.auto_migrate:
            await asyncio.to_thread(upgrade, settings.database_url)
        await gateway.start()
        try:
            await llm.start()
            try:
                async with server.session_manager.run():
                    yield
            finally:
                await llm.stop()
        finally:
            await gateway.stop()

    app = FastAPI(
        title="tool-broker",
        version=VERSION,
        description="MCP tool-broker gateway: the admin API. Agents connect over MCP at /mcp.",
        lifespan=lifespan,
        docs_url="/admin/docs",
        openapi_url="/admin/openapi.json",
        redoc_url=None,
    )
    app.state.gateway = gateway
    app.state.llm = llm
    app.add_middleware(ProxyFirst, proxy=llm.proxy)
    install_error_handlers(app)
    app.include_router(admin_router)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> JSONResponse:
        return JSONResponse({"status": "ok", **gateway.state.snapshot.describe()})

    @app.get("/metrics", include_in_schema=False)
    async def metrics(_: Request) -> Response:
        return Response(generate_latest(gateway.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    app.mount("/v1", llm.proxy)
    app.mount("/", mcp_app)
    return app


def _transport_security(settings: Settings) -> TransportSecuritySettings:
    """DNS-rebinding protection: only our own names in Host, only known browser Origins."""
    public = urlsplit(settings.resolved_public_url)
    hosts = [
        "127.0.0.1:*",
        "localhost:*",
        "[::1]:*",
        "127.0.0.1",
        "localhost",
        public.netloc,
        *settings.allowed_hosts,
    ]
    origins = [
        "http://127.0.0.1:*",
        "http://localhost:*",
        "http://[::1]:*",
        f"{public.scheme}://{public.netloc}",
        *settings.allowed_origins,
    ]
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True, allowed_hosts=hosts, allowed_origins=origins
    )
