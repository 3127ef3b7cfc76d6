"""Shared fixtures: the real gateway on loopback, real demo upstreams, real databases."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import pytest
import redis
from pydantic import SecretStr

from broker.app import create_app
from broker.demo.upstreams.crm import create_crm_app
from broker.demo.upstreams.serve import BackgroundServer
from broker.demo.upstreams.weather import create_weather_app
from broker.secrets.keys import generate_key
from broker.serving import server_options
from broker.settings import Settings

POSTGRES_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"
ADMIN_TOKEN = "test-admin-token-0123456789"
FIRST_REDIS_DB, LAST_REDIS_DB = 8, 15
"""The Redis databases the tests may empty: one per pytest-xdist worker (databases 0-7 are left
alone, 0 being where a developer's demo keeps its data)."""


def worker_index() -> int:
    """This pytest-xdist worker's number (gw0 -> 0), 0 when the tests run in one process.
    Resources that outlive a test and are shared machine-wide (Redis databases and channels)
    are split by it, so parallel workers never empty or hear each other's."""
    return int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw"))


def redis_test_url() -> str:
    """The Redis database of this worker; within a worker tests run one at a time, and each
    empties it before and after (`fresh_redis`)."""
    database = FIRST_REDIS_DB + worker_index()
    if database > LAST_REDIS_DB:
        pytest.fail(
            f"pytest-xdist worker {worker_index()} has no Redis database of its own: "
            f"at most {LAST_REDIS_DB - FIRST_REDIS_DB + 1} workers can run the Redis tests"
        )
    return f"redis://127.0.0.1:6379/{database}"


@pytest.hookimpl(tryfirst=True, optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object:
    """`--dist loadfile`, keeping the files that share server-wide state on one worker."""
    if config.getvalue("dist") != "loadfile":
        return None
    from tests.scheduling import FileScheduling

    return FileScheduling(config, log)  # type: ignore[arg-type]


PORTS_PER_WORKER = 1000


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768  # Linux's default


def _worker_ports() -> Iterator[int]:
    """This worker's slice of ports just below the kernel's ephemeral range, round and round."""
    first = _ephemeral_low() - PORTS_PER_WORKER * (LAST_REDIS_DB - FIRST_REDIS_DB + 1 - worker_index())
    while True:
        yield from range(first, first + PORTS_PER_WORKER)


_PORTS = _worker_ports()


def free_port() -> int:
    """A loopback port that is free now and that no other test worker will be handed.

    A port from `bind(0)` is released before the server that gets it binds it, and in the
    meantime another pytest-xdist worker's `bind(0)` (or an outgoing connection) may be given
    the same one. Each worker instead takes ports from its own slice below the ephemeral range,
    where the kernel hands out none, and skips any that something else holds.
    """
    for _ in range(PORTS_PER_WORKER):
        port = next(_PORTS)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    pytest.fail(
        f"no free loopback port in this worker's {PORTS_PER_WORKER}-port slice below the ephemeral range"
    )


@dataclass
class RunningGateway:
    url: str
    admin_token: str
    admin: httpx.Client
    database_url: str
    settings: Settings

    @property
    def mcp_url(self) -> str:
        return f"{self.url}/mcp"

    def create_agent(self, name: str, team: str | None = None) -> str:
        """Create an agent through the admin API and return a fresh key for it."""
        body: dict[str, str] = {"name": name}
        if team:
            body["team"] = team
        self.admin.post("/admin/agents", json=body).raise_for_status()
        response = self.admin.post(f"/admin/agents/{name}/keys", json={"label": "test"})
        response.raise_for_status()
        key: str = response.json()["key"]
        return key


def start_gateway(database_url: str, **overrides: object) -> tuple[BackgroundServer, RunningGateway]:
    port = free_port()
    options: dict[str, object] = {
        "database_url": database_url,
        "admin_token": SecretStr(ADMIN_TOKEN),
        "port": port,
        "state_poll_seconds": 0.2,
        "audit_flush_seconds": 0.05,
        "secret_keys": SecretStr(generate_key()),
        # Pub/sub channels are shared by every Redis database: gateways of different workers
        # must not hear each other's change notices.
        "redis_channel": f"broker:test:gw{worker_index()}",
    }
    settings = Settings(**{**options, **overrides})  # type: ignore[arg-type]
    server = BackgroundServer(
        create_app(settings), port=port, startup_timeout=30, **server_options(settings)
    ).start()
    token = settings.admin_token.get_secret_value() if settings.admin_token else ""
    # Generous: on a shared 2-core machine a big admin request can take more than 30 s.
    admin = httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=120)
    return server, RunningGateway(server.url, token, admin, database_url, settings)


@pytest.fixture
def gateway_settings() -> dict[str, object]:
    """Settings the `gateway` fixture overrides; a test package redefines this fixture to change them."""
    return {}


@pytest.fixture
def gateway(tmp_path: Path, gateway_settings: dict[str, object]) -> Iterator[RunningGateway]:
    server, running = start_gateway(f"sqlite:///{tmp_path / 'broker.db'}", **gateway_settings)
    try:
        yield running
    finally:
        running.admin.close()
        server.stop()


def fresh_redis(url: str) -> Iterator[str]:
    """For a fixture: the Redis database at `url` (see `redis_test_url`), emptied before and
    after; fails loudly when Redis is not there."""
    client = redis.Redis.from_url(url, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.fail(f"Redis is required at {url} for this test and is not reachable: {exc}")
    client.flushdb()
    try:
        yield url
    finally:
        client.flushdb()
        client.close()


@pytest.fixture(scope="session")
def weather_upstream() -> Iterator[str]:
    with BackgroundServer(create_weather_app()) as server:
        yield server.url


@pytest.fixture(scope="session")
def crm_upstream() -> Iterator[str]:
    with BackgroundServer(create_crm_app()) as server:
        yield server.url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for one test; fails loudly when the server is not there."""
    name = f"broker_test_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.fail(
            f"PostgreSQL is required at {POSTGRES_ADMIN_URL} for this test and is not reachable: {exc}"
        )
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
