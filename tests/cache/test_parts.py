"""The cache's parts on their own: the in-process store's bounds, entries, and the key plan."""

from __future__ import annotations

import asyncio
import hmac
import time
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import SecretStr

from broker.cache import key_secret
from broker.cache.entry import SHARED_SCOPE, CacheKey, agent_scope, decode, encode, encoded_size
from broker.cache.memory import MemoryStore
from broker.cache.plan import KEY_FORMAT, Planner, connector_facts
from broker.canonical import CANONICAL, canonical_json
from broker.catalog import AgentIdentity, Snapshot, catalog_tool
from broker.pii.plan import masking_plan
from broker.pipeline.call import ToolCall
from broker.settings import Settings
from connectors.base import ResourceOutput, ToolOutput, ToolSpec
from connectors.http.connector import HttpConnector, HttpConnectorConfig
from policies import Policy, PolicySet

OUTPUT = ToolOutput.from_json({"temperature": 18.5, "city": "Paris"})
ALICE = AgentIdentity("id-alice", "alice", None)
BOB = AgentIdentity("id-bob", "bob", None)
SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}, "units": {"type": "string"}}}


def key(tool: str = "w.current", scope: str = "s", digest: str = "d") -> CacheKey:
    return CacheKey(tool, scope, digest)


def store(evicted: list[int] | None = None, **bounds: int) -> MemoryStore:
    limits = {"max_entries": 100, "max_bytes": 100_000, "max_entry_bytes": 10_000, **bounds}
    return MemoryStore(**limits, on_evict=(evicted if evicted is not None else []).append)


async def test_entries_answer_within_their_ttl_and_the_callers_max_age() -> None:
    memory = store()
    assert await memory.put(key(), OUTPUT, ttl=0.2)
    found = await memory.get(key(), max_age=60)
    assert found is not None and found.output is OUTPUT
    assert await memory.get(key(), max_age=0) is None  # older than this caller accepts
    await asyncio.sleep(0.25)
    assert await memory.get(key(), max_age=60) is None


async def test_the_least_recently_used_entry_goes_first_and_is_counted() -> None:
    evicted: list[int] = []
    memory = store(evicted, max_entries=2)
    await memory.put(key(digest="1"), OUTPUT, 60)
    await memory.put(key(digest="2"), OUTPUT, 60)
    await memory.get(key(digest="1"), 60)
    await memory.put(key(digest="3"), OUTPUT, 60)
    assert await memory.get(key(digest="2"), 60) is None
    assert await memory.get(key(digest="1"), 60) is not None
    assert sum(evicted) == 1 and (await memory.stats()).entries == 2


async def test_the_byte_bound_and_oversized_results() -> None:
    size = len(encode(OUTPUT, time.time(), 60))
    evicted: list[int] = []
    memory = store(evicted, max_bytes=size * 3 + 10, max_entry_bytes=size * 2)
    for n in range(5):
        await memory.put(key(digest=str(n)), OUTPUT, 60)
    stats = await memory.stats()
    assert 2 <= stats.entries <= 3 and stats.bytes <= size * 3 + 10
    assert stats.entries + sum(evicted) == 5
    big = ToolOutput.from_json({"pad": "x" * size * 2})
    assert not await memory.put(key(digest="big"), big, 60)


async def test_purge_by_tool_scope_or_both() -> None:
    memory = store()
    for tool in ("a.x", "b.y"):
        for scope in (SHARED_SCOPE, agent_scope("1"), agent_scope("2")):
            await memory.put(key(tool, scope), OUTPUT, 60)
    assert await memory.purge("a.x", agent_scope("1")) == 1
    assert await memory.purge(None, agent_scope("2")) == 2
    assert await memory.purge("b.y", None) == 2
    assert (await memory.stats()).by_tool == {"a.x": 1}
    assert await memory.purge(None, None) == 1


def test_an_entry_is_sized_by_its_stored_json() -> None:
    """The in-process store sizes entries without writing the text Redis stores: the same length."""
    values: list[Any] = [{"city": "Paris", "é": ["☕", 1.5, None, True]}, {1: "int key"}, {"big": 2**70}]
    for value in values:
        output = ToolOutput.from_json(value, meta={"m": 1})
        assert encoded_size(output, 12.5, 60) == len(encode(output, 12.5, 60))
    resource = ResourceOutput(contents=[{"uri": "x://1", "text": "hello"}])
    assert encoded_size(resource, 1.0, 2.0) == len(encode(resource, 1.0, 2.0))


def test_an_entry_holds_the_result_and_its_timing_only() -> None:
    raw = encode(OUTPUT, 12.5, 60)
    entry = decode(raw)
    assert entry.output == OUTPUT and entry.stored_at == 12.5 and entry.ttl == 60 and entry.size == len(raw)
    assert key("we|ird:tool").text() == "we%7Cird%3Atool|s|d"


@pytest.fixture
def connector() -> Iterator[HttpConnector]:
    config = HttpConnectorConfig.model_validate(
        {
            "kind": "http",
            "name": "w",
            "base_url": "http://127.0.0.1:9",
            "tools": [{"name": "current", "description": "x", "path": "/c", "input_schema": SCHEMA}],
        }
    )
    yield HttpConnector(config)


def call(agent: AgentIdentity, arguments: dict[str, Any], policies: list[Policy], connector: Any) -> ToolCall:
    annotations = {"readOnlyHint": True, "idempotentHint": True}
    tool = catalog_tool("w", ToolSpec("current", "x", SCHEMA, annotations=annotations))
    snapshot = Snapshot(
        revision=1,
        policy_revision=7,
        policy_set=PolicySet(policies, version=7),
        keys={},
        tools={tool.name: tool},
        connectors={"w": connector},
    )
    return ToolCall(
        request_id="r",
        agent=agent,
        tool_name=tool.name,
        arguments=arguments,
        snapshot=snapshot,
        tool=tool,
        connector=tool.connector,
    )


def shared_policy(**extra: Any) -> Policy:
    return Policy.model_validate(
        {
            "name": "p",
            "agents": ["alice", "bob"],
            "allow": ["w.*"],
            "cache": {"w.current": {"ttl_seconds": 120, "shared": True}},
            **extra,
        }
    )


def test_keys_ignore_argument_order_and_name_no_value(connector: HttpConnector) -> None:
    planner = Planner(b"k" * 32, default_ttl=60)
    one = planner.plan(call(ALICE, {"city": "Paris", "units": "metric"}, [shared_policy()], connector))
    two = planner.plan(call(ALICE, {"units": "metric", "city": "Paris"}, [shared_policy()], connector))
    assert one is not None and two is not None and one.key == two.key
    assert "Paris" not in one.key.text() and "metric" not in one.key.text()
    other = planner.plan(call(ALICE, {"city": "Rome"}, [shared_policy()], connector))
    assert other is not None and other.key != one.key


def test_a_key_is_the_keyed_hash_of_the_canonical_json_of_what_it_covers(connector: HttpConnector) -> None:
    """Format 1, byte for byte: keys stored by earlier versions (Redis) stay valid."""
    secret = b"k" * 32
    planner = Planner(secret, default_ttl=60)
    arguments = {"units": "métrique", "city": "Paris"}
    made = call(ALICE, arguments, [shared_policy()], connector)
    plan = planner.plan(made)
    assert plan is not None
    masking = masking_plan(made.snapshot.policy_set, ALICE.subject).fingerprint
    generation = connector_facts(connector).generation
    covered = [KEY_FORMAT, "w.current", arguments, 7, generation, masking, SHARED_SCOPE]
    assert plan.key.digest == hmac.digest(secret, canonical_json(covered), "sha256").hex()
    validated = call(ALICE, arguments, [shared_policy()], connector)  # as ValidateArguments leaves it
    validated.canonical_arguments = CANONICAL.encode(arguments)
    again = planner.plan(validated)
    assert again is not None and again.key == plan.key


def test_shared_only_with_equal_masking_and_no_tokens(connector: HttpConnector) -> None:
    planner = Planner(b"k" * 32, default_ttl=60)
    policies = [shared_policy()]
    alice = planner.plan(call(ALICE, {"city": "Paris"}, policies, connector))
    bob = planner.plan(call(BOB, {"city": "Paris"}, policies, connector))
    assert alice is not None and bob is not None
    assert alice.key == bob.key and alice.key.scope == SHARED_SCOPE and alice.ttl == 120
    masked = [*policies, Policy(name="m", agents=["bob"], allow=[], masking={"default_operator": "redact"})]
    bob = planner.plan(call(BOB, {"city": "Paris"}, masked, connector))
    assert bob is not None and bob.key.scope == SHARED_SCOPE and bob.key != alice.key
    tokens = [shared_policy(masking={"entities": {"EMAIL_ADDRESS": "token"}, "token_ttl_seconds": 60})]
    alice = planner.plan(call(ALICE, {"city": "Paris"}, tokens, connector))
    assert alice is not None and alice.key.scope == agent_scope("id-alice")
    assert alice.ttl == 60  # tokens in a stored result must still resolve when it is served


def test_default_ttl_for_read_only_tools_and_none_otherwise(connector: HttpConnector) -> None:
    grant = [Policy(name="g", agents=["alice"], allow=["w.*"])]
    plan = Planner(b"k" * 32, default_ttl=45).plan(call(ALICE, {}, grant, connector))
    assert plan is not None and plan.ttl == 45 and plan.key.scope == agent_scope("id-alice")
    assert Planner(b"k" * 32, default_ttl=0).plan(call(ALICE, {}, grant, connector)) is None


def test_the_key_secret_follows_the_audit_key_and_the_pii_salt() -> None:
    base = Settings(pii_salt=SecretStr("s" * 24))
    assert key_secret(base) == key_secret(Settings(pii_salt=SecretStr("s" * 24)))
    assert key_secret(base) != key_secret(Settings(pii_salt=SecretStr("t" * 24)))
    assert key_secret(base) != key_secret(
        Settings(pii_salt=SecretStr("s" * 24), audit_hash_key=SecretStr("another"))
    )
