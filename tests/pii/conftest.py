from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import fresh_redis, redis_test_url


@pytest.fixture
def redis_url() -> Iterator[str]:
    """This worker's Redis database, emptied first; fails loudly when Redis is not there."""
    yield from fresh_redis(redis_test_url())
