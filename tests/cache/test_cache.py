"""The tool-result cache through the real gateway and a real MCP client (in-process store)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from pydantic import SecretStr

from broker.secrets.keys import generate_key
from tests.cache.conftest import CacheSetup, Upstream, connector, everyone, set_up
from tests.cli.conftest import Broker
from tests.e2e.helpers import mcp_client


def structured(result: Any) -> dict[str, Any]:
    assert not result.is_error, result
    value: dict[str, Any] = result.structured_content
    return value


def statuses(setup: CacheSetup, tool: str) -> list[tuple[str, str | None]]:
    return [(r["agent"], r["cache"]) for r in setup.audit(tool)]


async def test_a_repeated_call_is_served_from_the_agents_own_entry(setup: CacheSetup) -> None:
    first = structured(await setup.call("alice", "up.item", {"id": "a1"}))
    again = structured(await setup.call("alice", "up.item", {"id": "a1"}))
    assert first == again == {"length": 2, "served": 1}
    assert setup.upstream.calls["/item"] == 1
    # Another agent with the same arguments gets its own entry: results are per agent by default.
    assert structured(await setup.call("bob", "up.item", {"id": "a1"}))["served"] == 2
    assert structured(await setup.call("bob", "up.item", {"id": "a1"}))["served"] == 2
    assert setup.upstream.calls["/item"] == 2
    assert statuses(setup, "up.item") == [
        ("alice", "miss"),
        ("alice", "hit"),
        ("bob", "miss"),
        ("bob", "hit"),
    ]
    metrics = setup.metrics()
    assert 'broker_cache_lookups_total{status="hit",tool="up.item"} 2.0' in metrics
    assert 'broker_cache_lookups_total{status="miss",tool="up.item"} 2.0' in metrics
    assert 'broker_cache_stores_total{tool="up.item"} 2.0' in metrics


async def test_argument_order_does_not_matter(setup: CacheSetup) -> None:
    await setup.call("alice", "up.item", {"id": "x", "extra": "y"})
    await setup.call("alice", "up.item", {"extra": "y", "id": "x"})
    assert setup.upstream.calls["/item"] == 1
    await setup.call("alice", "up.item", {"id": "x", "extra": "z"})
    assert setup.upstream.calls["/item"] == 2


async def test_tools_not_annotated_read_only_and_idempotent_are_not_cached(setup: CacheSetup) -> None:
    for _ in range(2):
        await setup.call("alice", "up.fresh", {"id": "f"})
    assert setup.upstream.calls["/item"] == 2
    assert statuses(setup, "up.fresh") == [("alice", "uncacheable")] * 2
    # ... unless the operator says so in a policy.
    setup.apply([everyone(cache={"up.fresh": {"ttl_seconds": 60}})])
    for _ in range(2):
        await setup.call("alice", "up.fresh", {"id": "f"})
    assert setup.upstream.calls["/item"] == 3


async def test_a_policy_can_turn_caching_off_for_a_tool(setup: CacheSetup) -> None:
    setup.apply([everyone(cache={"up.*": {"ttl_seconds": 300}, "up.item": {"ttl_seconds": 0}})])
    for _ in range(2):
        await setup.call("alice", "up.item", {"id": "o"})
    assert setup.upstream.calls["/item"] == 2
    assert statuses(setup, "up.item")[-1] == ("alice", "uncacheable")


async def test_shared_entries_serve_agents_with_equal_masking_only(setup: CacheSetup) -> None:
    shared = {"up.item": {"ttl_seconds": 300, "shared": True}}
    setup.apply(
        [
            everyone(cache=shared),
            {
                "name": "carol-masking",
                "agents": ["carol"],
                "allow": [],
                "masking": {"default_operator": "redact"},
            },
        ]
    )
    for agent in ("alice", "bob"):
        assert structured(await setup.call(agent, "up.item", {"id": "s"}))["served"] == 1
    assert setup.upstream.calls["/item"] == 1
    # carol's results are masked differently: she never reads the entry alice and bob share.
    assert structured(await setup.call("carol", "up.item", {"id": "s"}))["served"] == 2
    assert statuses(setup, "up.item") == [("alice", "miss"), ("bob", "hit"), ("carol", "miss")]


async def test_masking_with_tokens_is_never_shared(setup: CacheSetup) -> None:
    tokens = {"entities": {"EMAIL_ADDRESS": "token"}}
    setup.apply([everyone(cache={"up.item": {"ttl_seconds": 300, "shared": True}}, masking=tokens)])
    for agent in ("alice", "bob"):
        await setup.call(agent, "up.item", {"id": "t"})
        await setup.call(agent, "up.item", {"id": "t"})
    assert setup.upstream.calls["/item"] == 2  # equal masking, but tokens differ per agent


async def test_per_agent_credentials_are_never_shared(
    custom_gateway: Any, upstream: tuple[Upstream, str]
) -> None:
    counting, url = upstream
    gateway = custom_gateway(secret_keys=SecretStr(generate_key()))
    for name in ("shared-key", "alice-key"):
        response = gateway.admin.put(f"/admin/secrets/{name}", json={"value": f"{name}-value-1234"})
        assert response.status_code == 201, response.text
    setup = set_up(gateway, url, counting)
    document = {
        "connectors": [
            {
                **connector(url),
                "auth": {
                    "type": "header",
                    "name": "X-Key",
                    "secret": "shared-key",
                    "per_agent": {"alice": "alice-key"},
                },
            }
        ]
    }
    assert gateway.admin.post("/admin/apply", json=document).status_code == 200
    setup.apply([everyone(cache={"up.item": {"ttl_seconds": 300, "shared": True}})])
    for agent in ("alice", "bob", "carol"):
        await setup.call(agent, "up.item", {"id": "c"})
    assert counting.calls["/item"] == 3


async def test_fifty_concurrent_identical_calls_reach_the_upstream_once(setup: CacheSetup) -> None:
    setup.upstream.delay = 0.3
    results = await asyncio.gather(*(setup.call("alice", "up.item", {"id": "burst"}) for _ in range(50)))
    assert setup.upstream.calls["/item"] == 1
    assert {json.dumps(structured(r), sort_keys=True) for r in results} == {'{"length": 5, "served": 1}'}
    found = [status for _, status in statuses(setup, "up.item")]
    assert found.count("miss") == 1 and len(found) == 50
    assert set(found) <= {"miss", "coalesced", "hit"}


async def test_errors_are_never_cached(setup: CacheSetup) -> None:
    setup.upstream.failing.add("/item")
    for _ in range(2):
        result = await setup.call("alice", "up.item", {"id": "e"})
        assert result.is_error and "503" in result.content[0].text
    assert setup.upstream.calls["/item"] == 2
    setup.upstream.failing.clear()
    assert structured(await setup.call("alice", "up.item", {"id": "e"}))["served"] == 3
    assert structured(await setup.call("alice", "up.item", {"id": "e"}))["served"] == 3
    assert [r["outcome"] for r in setup.audit("up.item")] == ["upstream_error"] * 2 + ["ok"] * 2


async def test_entries_expire_after_their_ttl(setup: CacheSetup) -> None:
    setup.apply([everyone(cache={"up.item": {"ttl_seconds": 0.5}})])
    await setup.call("alice", "up.item", {"id": "ttl"})
    await setup.call("alice", "up.item", {"id": "ttl"})
    assert setup.upstream.calls["/item"] == 1
    await asyncio.sleep(0.7)
    assert structured(await setup.call("alice", "up.item", {"id": "ttl"}))["served"] == 2


async def test_a_caller_may_bypass_the_cache_where_the_policy_allows(setup: CacheSetup) -> None:
    bypass = {"broker/cache": "bypass"}
    await setup.call("alice", "up.item", {"id": "b"})
    fresh = structured(await setup.call("alice", "up.item", {"id": "b"}, meta=bypass))
    assert fresh["served"] == 2
    # The fresh result replaced the entry.
    assert structured(await setup.call("alice", "up.item", {"id": "b"}))["served"] == 2
    assert [s for _, s in statuses(setup, "up.item")] == ["miss", "bypass", "hit"]

    setup.apply([everyone(cache={"up.item": {"ttl_seconds": 300, "bypass": False}})])
    await setup.call("alice", "up.item", {"id": "b"})
    ignored = structured(await setup.call("alice", "up.item", {"id": "b"}, meta=bypass))
    assert ignored["served"] == 3 and setup.upstream.calls["/item"] == 3
    assert [s for _, s in statuses(setup, "up.item")][-2:] == ["miss", "hit"]


async def test_a_policy_change_starts_new_entries(setup: CacheSetup) -> None:
    await setup.call("alice", "up.item", {"id": "p"})
    await setup.call("alice", "up.item", {"id": "p"})
    assert setup.upstream.calls["/item"] == 1
    setup.apply([everyone(description="a new revision")])
    assert structured(await setup.call("alice", "up.item", {"id": "p"}))["served"] == 2


async def test_purge_by_tool_and_by_agent(setup: CacheSetup, broker: Broker) -> None:
    for agent in ("alice", "bob"):
        await setup.call(agent, "up.item", {"id": "pg"})
        await setup.call(agent, "up.echo", {"email": "x@example.com"})
    assert (setup.upstream.calls["/item"], setup.upstream.calls["/echo"]) == (2, 2)
    stats = json.loads(broker("cache", "stats", "--json").out)
    assert stats["backend"] == "memory" and stats["entries"] == 4
    assert stats["by_tool"] == {"up.item": 2, "up.echo": 2}

    purged = broker("cache", "purge", "--agent", "alice")
    assert (purged.code, purged.out) == (0, "purged 2 entries of agent alice\n")
    await setup.call("alice", "up.item", {"id": "pg"})
    await setup.call("bob", "up.item", {"id": "pg"})
    assert setup.upstream.calls["/item"] == 3  # alice fetched again, bob still hit

    assert broker("cache", "purge", "--tool", "up.echo").out == "purged 1 entries of tool up.echo\n"
    await setup.call("bob", "up.echo", {"email": "x@example.com"})
    assert setup.upstream.calls["/echo"] == 3

    text = broker("cache", "stats").out
    assert "backend:    memory" in text and "up.item" in text
    assert broker("cache", "purge").out.startswith("purged 3 entries")
    assert setup.gateway.admin.get("/admin/cache").json()["entries"] == 0
    missing = setup.gateway.admin.post("/admin/cache/purge", json={"agent": "nobody"})
    assert missing.status_code == 404


async def test_eviction_keeps_the_cache_within_its_bounds(
    custom_gateway: Any, upstream: tuple[Upstream, str]
) -> None:
    counting, url = upstream
    setup = set_up(custom_gateway(cache_max_entries=3), url, counting)
    for n in range(5):
        await setup.call("alice", "up.item", {"id": f"e{n}"})
    stats = setup.gateway.admin.get("/admin/cache").json()
    assert stats["entries"] == 3 and stats["evictions"] == 2
    assert "broker_cache_evictions_total 2.0" in setup.metrics()
    await setup.call("alice", "up.item", {"id": "e4"})  # recent: kept
    await setup.call("alice", "up.item", {"id": "e0"})  # least recently used: evicted
    assert counting.calls["/item"] == 6


async def test_the_byte_bound_holds_too(custom_gateway: Any, upstream: tuple[Upstream, str]) -> None:
    counting, url = upstream
    setup = set_up(custom_gateway(cache_max_bytes=400), url, counting)
    for n in range(20):
        await setup.call("alice", "up.item", {"id": f"b{n}"})
    stats = setup.gateway.admin.get("/admin/cache").json()
    assert 0 < stats["bytes"] <= 400 and stats["entries"] < 20 and stats["evictions"] > 0


async def test_the_cache_can_be_turned_off(custom_gateway: Any, upstream: tuple[Upstream, str]) -> None:
    counting, url = upstream
    setup = set_up(custom_gateway(cache_backend="off"), url, counting)
    for _ in range(2):
        await setup.call("alice", "up.item", {"id": "off"})
    assert counting.calls["/item"] == 2
    assert statuses(setup, "up.item") == [("alice", None)] * 2
    assert setup.gateway.admin.get("/admin/cache").json()["backend"] == "off"


async def test_repeated_hits_never_reach_the_upstream(setup: CacheSetup) -> None:
    """How fast a hit is belongs to bench/cache.py; here, that twenty hits cost the upstream nothing."""
    async with mcp_client(setup.gateway.mcp_url, setup.keys["alice"]) as client:
        for _ in range(21):
            await client.call_tool("up.item", {"id": "fast"})
    assert setup.upstream.calls["/item"] == 1
