from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

REDIS_URL = "redis://127.0.0.1:6379/12"


@pytest.fixture
def redis_url() -> Iterator[str]:
    """A Redis database for the PII tests, emptied first; fails loudly when Redis is not there."""
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.fail(f"Redis is required at {REDIS_URL} for this test and is not reachable: {exc}")
    client.flushdb()
    yield REDIS_URL
    client.flushdb()
    client.close()
