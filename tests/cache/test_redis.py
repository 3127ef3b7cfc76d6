"""The Redis store: two gateway instances on one database and one Redis share entries and
fetches, and nothing stored names an argument value."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import httpx
import redis
from pydantic import SecretStr

from broker.cache.redis_store import LOCK_PREFIX, PREFIX
from broker.secrets.keys import generate_key
from tests.cache.conftest import CacheSetup, Upstream, everyone, set_up

SECRET_ID = "argument-value-7f3a-needle"
EMAIL = "jane.needle@example.com"


def two_instances(
    custom_gateway: Any, upstream: tuple[Upstream, str], redis_url: str, tmp_path: Path
) -> tuple[CacheSetup, CacheSetup]:
    counting, url = upstream
    database = f"sqlite:///{tmp_path / 'shared.db'}"
    # Instances of one deployment share their keys (so the PII salt, part of every cache key).
    shared = {"redis_url": redis_url, "secret_keys": SecretStr(generate_key())}
    first = set_up(custom_gateway("a", database, **shared), url, counting)
    second = CacheSetup(custom_gateway("b", database, **shared), counting, first.keys)
    return first, second


def converge(*setups: CacheSetup) -> None:
    """Wait until every instance serves the newest policy revision (others poll every 0.2 s)."""
    deadline = time.monotonic() + 10
    while True:
        revisions = {httpx.get(f"{s.gateway.url}/healthz").json()["policy_revision"] for s in setups}
        if len(revisions) == 1 or time.monotonic() > deadline:
            assert len(revisions) == 1, revisions
            return
        time.sleep(0.05)


def stored(redis_url: str, prefix: str = PREFIX) -> dict[bytes, bytes]:
    client = redis.Redis.from_url(redis_url)
    try:
        return {name: client.get(name) or b"" for name in client.scan_iter(match=prefix + "*")}
    finally:
        client.close()


async def test_two_instances_share_entries(
    custom_gateway: Any, upstream: tuple[Upstream, str], redis_url: str, tmp_path: Path
) -> None:
    first, second = two_instances(custom_gateway, upstream, redis_url, tmp_path)
    assert first.gateway.admin.get("/admin/cache").json()["backend"] == "redis"
    result = await first.call("alice", "up.item", {"id": "r1"})
    again = await second.call("alice", "up.item", {"id": "r1"})
    assert result.structured_content == again.structured_content == {"length": 2, "served": 1}
    assert first.upstream.calls["/item"] == 1
    first.audit("up.item")  # each instance writes its own records: flush both
    assert [r["cache"] for r in second.audit("up.item")] == ["miss", "hit"]
    assert 'broker_cache_lookups_total{status="hit",tool="up.item"} 1.0' in second.metrics()
    # Still per agent: bob's call on either instance goes upstream.
    await second.call("bob", "up.item", {"id": "r1"})
    assert first.upstream.calls["/item"] == 2
    stats = first.gateway.admin.get("/admin/cache").json()
    assert stats["entries"] == 2 and stats["by_tool"] == {"up.item": 2} and stats["bytes"] > 0


async def test_concurrent_misses_on_two_instances_make_one_upstream_call(
    custom_gateway: Any, upstream: tuple[Upstream, str], redis_url: str, tmp_path: Path
) -> None:
    first, second = two_instances(custom_gateway, upstream, redis_url, tmp_path)
    first.upstream.delay = 0.4
    calls = [setup.call("alice", "up.item", {"id": "burst"}) for setup in (first, second) for _ in range(10)]
    results = await asyncio.gather(*calls)
    assert first.upstream.calls["/item"] == 1
    assert {json.dumps(r.structured_content) for r in results} == {'{"length": 5, "served": 1}'}
    second.audit("up.item")  # each instance writes its own records: flush both
    found = [r["cache"] for r in first.audit("up.item")]
    assert found.count("miss") == 1 and found.count("coalesced") + found.count("hit") == 19
    assert stored(redis_url, LOCK_PREFIX) == {}  # the claim was released


async def test_shared_entries_and_purges_across_instances(
    custom_gateway: Any, upstream: tuple[Upstream, str], redis_url: str, tmp_path: Path
) -> None:
    first, second = two_instances(custom_gateway, upstream, redis_url, tmp_path)
    first.apply([everyone(cache={"up.item": {"ttl_seconds": 300, "shared": True}})])
    converge(first, second)
    await first.call("alice", "up.item", {"id": "sh"})
    await second.call("bob", "up.item", {"id": "sh"})
    assert first.upstream.calls["/item"] == 1
    purged = second.gateway.admin.post("/admin/cache/purge", json={"tool": "up.item"}).json()
    assert purged == {"purged": 1}
    await first.call("bob", "up.item", {"id": "sh"})
    assert first.upstream.calls["/item"] == 2
    # An agent's own entries go with --agent; shared ones stay.
    first.apply([everyone()])
    converge(first, second)
    await first.call("alice", "up.item", {"id": "own"})
    assert first.gateway.admin.post("/admin/cache/purge", json={"agent": "alice"}).json() == {"purged": 1}
    await second.call("alice", "up.item", {"id": "own"})
    assert first.upstream.calls["/item"] == 4


async def test_redis_holds_no_argument_values(
    custom_gateway: Any, upstream: tuple[Upstream, str], redis_url: str, tmp_path: Path
) -> None:
    first, _ = two_instances(custom_gateway, upstream, redis_url, tmp_path)
    await first.call("alice", "up.item", {"id": SECRET_ID, "extra": "other-needle-value"})
    echoed = await first.call("alice", "up.echo", {"email": EMAIL})
    assert EMAIL not in json.dumps(echoed.structured_content)  # masked before the agent sees it
    entries = stored(redis_url)
    assert len(entries) == 2
    everything = b"\n".join([*entries, *entries.values()])
    for needle in (SECRET_ID, "other-needle-value", EMAIL, "jane.needle"):
        assert needle.encode() not in everything
    for name, value in entries.items():
        tool, scope, digest = name.decode()[len(PREFIX) :].split("|")
        assert tool in ("up.item", "up.echo") and scope.startswith("a.") and len(digest) == 64
        assert set(json.loads(value)) == {"t", "l", "c", "s", "m"}  # the result and its timing only
