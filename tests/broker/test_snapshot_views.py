"""A snapshot's per-caller views stay bounded whatever narrowing clients send."""

from __future__ import annotations

from broker.catalog import AGENT_VIEWS, SHARED_VIEWS, AgentIdentity, Snapshot, catalog_tool
from connectors.base import ToolSpec
from policies import Policy, PolicySet

SCHEMA = {"type": "object", "properties": {}}
ALICE = AgentIdentity("id-alice", "alice", None)


def snapshot() -> Snapshot:
    tools = [catalog_tool(c, ToolSpec("t", "x", SCHEMA)) for c in ("a", "b")]
    policy = Policy.model_validate({"name": "p", "agents": ["alice"], "allow": ["*"]})
    return Snapshot(
        revision=1,
        policy_revision=1,
        policy_set=PolicySet([policy], version=1),
        keys={},
        tools={tool.name: tool for tool in tools},
        connectors={},
    )


def test_views_keyed_by_made_up_narrowings_are_bounded_and_stay_right() -> None:
    snap = snapshot()
    first = [tool.name for tool in snap.visible_tools(ALICE, frozenset({"a"}))]
    for n in range(AGENT_VIEWS + 100):  # a client sending a new MCP-Context value every time
        only = frozenset({"a", f"made-up-{n}"})
        assert [tool.name for tool in snap.visible_tools(ALICE, only)] == ["a.t"]
        assert snap.visible_prompts(ALICE, only) == []
    assert len(snap._visible) <= AGENT_VIEWS
    assert len(snap._granted) <= AGENT_VIEWS
    assert len(snap._visible_other) <= AGENT_VIEWS
    assert len(snap._shared_views) <= SHARED_VIEWS
    # an evicted view is built again, the same
    assert [tool.name for tool in snap.visible_tools(ALICE, frozenset({"a"}))] == first == ["a.t"]
    assert [tool.name for tool in snap.visible_tools(ALICE, None)] == ["a.t", "b.t"]
