"""Serving /metrics: on the gateway's own port, or on a listen address of its own, and
behind a bearer token when one is set.

The metric labels name agents, tools and models, which is more than an anonymous caller
should learn. Two ways to keep them in: `BROKER_METRICS_TOKEN` (Prometheus sends it with
`authorization: {credentials: ...}` in its scrape config), compared in constant time; and/or
`BROKER_METRICS_PORT` (with `BROKER_METRICS_HOST`, default 127.0.0.1), which moves /metrics
off the public port to a second small server in the same process, reachable only from where
the scraper runs. The text format and its content type are Prometheus' own.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import uvicorn
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route


def metrics_endpoint(
    registry: CollectorRegistry, token: str | None, before: Callable[[], Awaitable[None]] | None = None
) -> Route:
    """GET /metrics in the Prometheus text format; 401 without the token when one is set.
    `before` updates gauges read at scrape time (budgets left), off the request path."""
    expected = f"Bearer {token}".encode() if token else None

    async def metrics(request: Request) -> Response:
        if expected is not None:
            given = request.headers.get("authorization", "").encode("latin-1", errors="replace")
            if not hmac.compare_digest(given, expected):
                return PlainTextResponse(
                    "metrics need the bearer token set in BROKER_METRICS_TOKEN\n",
                    401,
                    headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
                )
        if before is not None:
            await before()
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return Route("/metrics", metrics, methods=["GET"], include_in_schema=False)


class _Embedded(uvicorn.Server):
    """A uvicorn server run as a task of another one: the host process owns the signals."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@contextlib.asynccontextmanager
async def metrics_server(route: Route, host: str, port: int) -> AsyncIterator[None]:
    """Serve only /metrics on host:port while the context is open."""
    config = uvicorn.Config(
        Starlette(routes=[route]), host=host, port=port, lifespan="off", log_config=None,
        access_log=False, timeout_keep_alive=5, limit_concurrency=32,
    )  # fmt: skip
    try:  # bound here, so a taken or unusable address stops the startup with its own error
        # reuse_port: with `broker serve --workers N` each worker serves its own registry there,
        # as each serves its own on the gateway's port.
        sock = socket.create_server((host, port), family=_family(host), reuse_port=True)
    except OSError as exc:
        raise OSError(f"the metrics server cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    server = _Embedded(config)
    task = asyncio.create_task(server.serve(sockets=[sock]), name="metrics-server")
    try:
        yield
    finally:
        server.should_exit = True
        await task
        sock.close()


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET
