from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import fresh_redis

REDIS_URL = "redis://127.0.0.1:6379/12"


@pytest.fixture
def redis_url() -> Iterator[str]:
    """A Redis database for the PII tests, emptied first; fails loudly when Redis is not there."""
    yield from fresh_redis(REDIS_URL)
