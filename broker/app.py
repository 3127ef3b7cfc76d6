"""Composes the ASGI app: the admin API and its console (/ui), /metrics, /healthz and /readyz,
the LLM proxy at /v1, and MCP at /mcp."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from importlib.metadata import version
from urllib.parse import urlsplit

from fastapi import FastAPI
from mcp.server.transport_security import TransportSecuritySettings
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from broker import offload, offload_memory
from broker.admin import admin_router, install_error_handlers
from broker.admin.changes import ChangeLog
from broker.connections.web import router as connections_router
from broker.front import McpFront
from broker.gateway import Gateway
from broker.health import Health, describe
from broker.identity.operators import sign_in_config
from broker.identity.resource import McpGuard, metadata_url, resource_metadata
from broker.llm.proxy import ProxyFirst
from broker.llm.runtime import LlmRuntime
from broker.mcp import transport as mcp_transport
from broker.mcp.fastpath import McpFastPath
from broker.mcp.input_rounds import request_state_key
from broker.mcp.notify import ListWatchers
from broker.mcp.server import build_server
from broker.mcp.session_store import make_session_store
from broker.mcp.sessions import Sessions
from broker.metrics_http import metrics_endpoint, metrics_server
from broker.settings import Settings
from broker.store.migrate import upgrade
from broker.telemetry import TraceRequests
from broker.telemetry.logs import RequestIds, configure_json_logs
from broker.ui import install_console
from connectors import outbound

VERSION = version("tool-broker")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    if settings.log_format == "json":  # first: what building the parts logs is JSON too
        configure_json_logs(settings.log_level)
    outbound.configure(settings.outbound())  # before any upstream client is made
    gateway = Gateway.from_settings(settings)
    llm = LlmRuntime.from_gateway(gateway)
    public_url = settings.resolved_public_url

    watchers = ListWatchers()
    gateway.state.on_change(watchers.changed)
    session_store = make_session_store(settings.redis_url, settings.redis_channel)
    sessions = Sessions(session_store, gateway.bus, lambda: gateway.state.snapshot, watchers)
    server = build_server(
        lambda: gateway.state.snapshot,
        gateway.pipeline,
        version=VERSION,
        watchers=watchers,
        sessions=sessions,
        request_state_key=request_state_key(settings),
    )
    security = _transport_security(settings)
    mcp_app = server.streamable_http_app(
        streamable_http_path="/mcp",
        json_response=False,  # broker.mcp.transport: 2025 sessions stream, 2026-07-28 answers JSON
        stateless_http=False,
        max_request_body_size=settings.max_request_bytes,
        transport_security=security,
    )
    guarded_mcp = McpGuard(mcp_app, gateway.identity, metadata_url(public_url, "/mcp"))

    health = Health(
        gateway.engine,
        loaded=lambda: gateway.state.loaded and llm.state.loaded,
        redis_ping=gateway.bus.ping if gateway.bus.shared else None,
    )
    token = settings.metrics_token.get_secret_value() if settings.metrics_token else None
    metrics_route = metrics_endpoint(gateway.metrics.registry, token, before=llm.update_budget_gauges)

    mcp_transport.install(server.session_manager, sessions)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        offload_memory.keep(offload_memory.GATEWAY_KEEP_BYTES)  # (big results' memory, call to call)
        if settings.auto_migrate:
            await asyncio.to_thread(upgrade, settings.database_url)
        await gateway.start()
        try:
            await llm.start()
            try:
                async with contextlib.AsyncExitStack() as stack:
                    if settings.metrics_port is not None:
                        await stack.enter_async_context(
                            metrics_server(metrics_route, settings.metrics_host, settings.metrics_port)
                        )
                    stack.push_async_callback(session_store.close)
                    await stack.enter_async_context(server.session_manager.run())
                    stack.callback(health.drain_on_sigterm(settings.drain_seconds))
                    yield
            finally:
                await llm.stop()
        finally:
            await gateway.stop()
            await asyncio.to_thread(offload.shutdown)  # instant unless a big document started workers

    app = GatewayApp(
        title="tool-broker",
        version=VERSION,
        description="MCP tool-broker gateway: the admin API. Agents connect over MCP at /mcp.",
        lifespan=lifespan,
        docs_url=None,  # /admin/docs is broker.ui's, with Swagger UI served locally
        openapi_url="/admin/openapi.json",
        redoc_url=None,
    )
    app.state.gateway = gateway
    app.state.llm = llm
    app.state.health = health
    app.add_middleware(ChangeLog, sessions=gateway.sessions)  # /admin changes only
    front: ASGIApp = app.framework
    if settings.mcp_fast_path:  # stateless tools/call and tools/list skip the framework and the SDK
        front = fast = McpFastPath(
            front,
            snapshot=lambda: gateway.state.snapshot,
            pipeline=gateway.pipeline,
            guard=guarded_mcp,
            security=security,
            max_body=settings.max_request_bytes,
            server_info=server.server_info_stamp,
            answered=gateway.metrics.mcp_fast,
        )
        app.mcp_front = McpFront(fast, gateway.tracer)  # broker.front: answered from the parser
    front = ProxyFirst(front, proxy=llm.proxy)  # /v1 skips the fast path's screening and the framework
    if gateway.tracer is not None:  # /v1 and /mcp requests get their server span too
        front = TraceRequests(front, tracer=gateway.tracer)
    app.front = RequestIds(front)  # ids in headers, error bodies and (JSON) log lines
    install_error_handlers(app)

    @app.get("/admin/sign-in", tags=["sign-in"], summary="Where operators sign in (OIDC); no token needed")
    async def admin_sign_in() -> JSONResponse:
        return JSONResponse(await sign_in_config(gateway.oauth, settings))

    install_console(app)
    app.include_router(admin_router)
    app.include_router(connections_router)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> JSONResponse:
        """Alive: the process answers (say nothing of dependencies: a restart would not fix them)."""
        described = gateway.state.snapshot.describe()
        return JSONResponse({"status": "ok", **described, "llm_revision": llm.state.snapshot.revision})

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> JSONResponse:
        """Ready for traffic: database, schema, Redis, state loaded, not draining; else 503."""
        ready, checks = await health.readiness()
        return JSONResponse(describe(ready, checks), status_code=200 if ready else 503)

    if settings.metrics_port is None:
        app.router.routes.append(metrics_route)

    @app.get("/.well-known/oauth-protected-resource/mcp", include_in_schema=False)
    async def mcp_resource_metadata() -> JSONResponse:
        """RFC 9728: the MCP endpoint as a protected resource, naming the authorization servers."""
        return _metadata(
            resource_metadata(f"{public_url}/mcp", settings.oauth_issuers, settings.oauth_scopes)
        )

    @app.get("/.well-known/jwks.json", include_in_schema=False)
    async def jwks() -> JSONResponse:
        """The keys upstreams verify the gateway's assertions with (auth type gateway_jwt)."""
        keys = gateway.signer.jwks() if gateway.signer is not None else {"keys": []}
        return JSONResponse(keys, headers={"Cache-Control": "public, max-age=300"})

    @app.get("/.well-known/oauth-protected-resource", include_in_schema=False)
    async def gateway_resource_metadata() -> JSONResponse:
        """RFC 9728: the gateway as a whole (/v1 and /admin)."""
        return _metadata(resource_metadata(public_url, settings.oauth_issuers, settings.oauth_scopes))

    app.mount("/v1", llm.proxy)
    app.mount("/", guarded_mcp)
    return app


class GatewayApp(FastAPI):
    """FastAPI behind a front: every HTTP request enters `front` first (request ids, the server
    span, /v1 to the LLM proxy, the MCP fast path), which passes what it does not answer to
    `framework`, the FastAPI app as usual. A model call or a fast-path tools/call so skips the
    framework's own layers (its telemetry check, error and body-limit middleware): ~6% of a
    cache hit's CPU. Served by `broker.serving`'s protocol, such a tools/call skips this too
    (`mcp_front`: `broker.front`)."""

    front: ASGIApp | None = None
    mcp_front: McpFront | None = None
    """The fast path as the HTTP front (`broker.front.McpFrontProtocol`) calls it."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.front is not None and scope["type"] == "http":
            await self.front(scope, receive, send)
        else:
            await super().__call__(scope, receive, send)

    async def framework(self, scope: Scope, receive: Receive, send: Send) -> None:
        await super().__call__(scope, receive, send)


def _metadata(document: dict[str, object]) -> JSONResponse:
    return JSONResponse(
        document, headers={"Cache-Control": "public, max-age=3600", "Access-Control-Allow-Origin": "*"}
    )


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
