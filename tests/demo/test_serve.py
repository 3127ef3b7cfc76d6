"""BackgroundServer: ports, startup failures, clean shutdown, sync and async use."""

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from broker.demo.upstreams import BackgroundServer, ServerStartError
from tests.conftest import free_port
from tests.demo.conftest import client_for


async def hello(_: Request) -> PlainTextResponse:
    return PlainTextResponse("hello")


def hello_app() -> Starlette:
    return Starlette(routes=[Route("/", hello)])


def test_port_zero_picks_a_free_port_and_serves() -> None:
    with BackgroundServer(hello_app()) as server:
        assert server.port > 0
        assert server.url == f"http://127.0.0.1:{server.port}"
        assert server.running
        assert httpx.get(server.url, trust_env=False).text == "hello"


def test_serves_on_the_requested_port() -> None:
    port = free_port()
    with BackgroundServer(hello_app(), port=port) as server:
        assert server.port == port
        assert httpx.get(f"http://127.0.0.1:{port}/", trust_env=False).text == "hello"


def test_stops_cleanly_and_frees_the_port() -> None:
    server = BackgroundServer(hello_app())
    with server, client_for(server.url) as client:
        assert client.get("/").status_code == 200  # leaves an idle keep-alive connection open
        server.stop()
        assert not server.running
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"http://127.0.0.1:{server.port}/", trust_env=False)
    server.stop()  # idempotent


def test_url_and_double_start_are_errors() -> None:
    server = BackgroundServer(hello_app())
    with pytest.raises(RuntimeError, match="not running"):
        _ = server.url
    with server, pytest.raises(RuntimeError, match="already running"):
        server.start()


def test_busy_port_is_a_clear_error() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(ServerStartError, match=f"cannot listen on 127.0.0.1:{port}"):
            BackgroundServer(hello_app(), port=port).start()


def test_failing_lifespan_is_a_clear_error() -> None:
    @asynccontextmanager
    async def broken(_: Starlette) -> AsyncIterator[None]:
        raise RuntimeError("database unreachable")
        yield

    server = BackgroundServer(Starlette(lifespan=broken))
    with pytest.raises(ServerStartError, match="exited during startup"):
        server.start()
    assert not server.running


def test_slow_startup_times_out() -> None:
    @asynccontextmanager
    async def slow(_: Starlette) -> AsyncIterator[None]:
        await asyncio.sleep(1.0)
        yield

    server = BackgroundServer(Starlette(lifespan=slow), startup_timeout=0.2, shutdown_timeout=2)
    with pytest.raises(ServerStartError, match=r"did not start within 0\.2s"):
        server.start()
    assert not server.running


async def test_async_context_manager() -> None:
    async with (
        BackgroundServer(hello_app()) as server,
        httpx.AsyncClient(base_url=server.url, trust_env=False) as client,
    ):
        responses = await asyncio.gather(*(client.get("/") for _ in range(5)))
        assert [r.text for r in responses] == ["hello"] * 5
    assert not server.running
