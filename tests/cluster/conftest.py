"""Two gateway instances on loopback sharing one PostgreSQL database and one Redis."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from broker.demo.upstreams.llm import MockLLM, create_llm_app
from broker.demo.upstreams.serve import BackgroundServer
from broker.secrets.keys import generate_key
from tests.conftest import RunningGateway, fresh_redis, redis_test_url, start_gateway
from tests.llm.conftest import PROVIDER_KEY, mock_document


@dataclass
class Cluster:
    instances: list[RunningGateway]
    servers: list[BackgroundServer]
    mock: MockLLM
    mock_url: str
    settings: dict[str, Any]
    extra: list[BackgroundServer] = field(default_factory=list)

    def start_instance(self, database_url: str) -> RunningGateway:
        server, gateway = start_gateway(database_url, **self.settings)
        self.servers.append(server)
        self.instances.append(gateway)
        return gateway

    def revisions(self, gateway: RunningGateway) -> tuple[int, int]:
        body = httpx.get(f"{gateway.url}/healthz", timeout=5).json()
        return body["revision"], body["llm_revision"]

    def wait_in_step(self, source: RunningGateway, seconds: float = 1.0) -> float:
        """Poll every instance until it has `source`'s revisions; fail after `seconds`.
        Returns how long it took."""
        wanted = self.revisions(source)
        started = time.monotonic()
        deadline = started + seconds
        lagging = list(self.instances)
        while lagging:
            lagging = [g for g in lagging if self.revisions(g) < wanted]
            if lagging and time.monotonic() > deadline:
                seen = [self.revisions(g) for g in lagging]
                pytest.fail(f"instances still at {seen}, not {wanted}, {seconds} s after the change")
            time.sleep(0.02)
        return time.monotonic() - started


@pytest.fixture
def cluster_redis() -> Iterator[str]:
    yield from fresh_redis(redis_test_url())


@pytest.fixture
def make_cluster(postgres_url: str, cluster_redis: str) -> Iterator[Callable[..., Cluster]]:
    """`make_cluster(n, **settings)`: n instances (polling only every 60 s, so a change can reach
    the others within a second only through Redis), a mock LLM provider, one PostgreSQL."""
    made: list[Cluster] = []

    def make(count: int = 2, **overrides: Any) -> Cluster:
        mock = MockLLM(api_key=PROVIDER_KEY)
        upstream = BackgroundServer(create_llm_app(mock)).start()
        settings: dict[str, Any] = {
            "redis_url": cluster_redis,
            "redis_channel": f"broker:test:{uuid.uuid4().hex}",
            "state_poll_seconds": 60.0,
            "secret_keys": SecretStr(generate_key()),
            "llm_provider_keys": {"MOCK_KEY": SecretStr(PROVIDER_KEY)},
            **overrides,
        }
        cluster = Cluster([], [], mock, upstream.url, settings, extra=[upstream])
        made.append(cluster)
        for _ in range(count):
            cluster.start_instance(postgres_url)
        return cluster

    yield make
    for cluster in made:
        for gateway in cluster.instances:
            gateway.admin.close()
        for server in [*cluster.servers, *cluster.extra]:
            server.stop()


def llm_document(cluster: Cluster, **extra: Any) -> dict[str, Any]:
    return mock_document(cluster.mock_url, **extra)
