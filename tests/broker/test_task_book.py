"""Whose a gateway task is: the agent and the end user it acts for, both."""

from __future__ import annotations

import pytest
from mcp.shared.exceptions import MCPError

from broker.catalog import AgentIdentity
from broker.mcp.tasks import BookedTask, TaskBook, owner_of


def agent(end_user: str | None, agent_id: str = "a1") -> AgentIdentity:
    return AgentIdentity(id=agent_id, name="bot", team=None, end_user=end_user)


def test_a_task_is_found_only_by_the_agent_and_end_user_that_started_it() -> None:
    book = TaskBook()
    ann = agent("ann")
    task_id = book.add(BookedTask(owner_of(ann), "up.report", {}, "upstream-1", None))
    assert book.find(task_id, agent("ann")).upstream_id == "upstream-1"
    for other in (agent("ben"), agent(None), agent("ann", agent_id="a2")):
        with pytest.raises(MCPError) as refused:
            book.find(task_id, other)
        assert refused.value.error.code == -32602
        assert book.of(other) == []
    with pytest.raises(MCPError):
        book.find("never-issued", ann)
    assert [found for found, _ in book.of(ann)] == [task_id]
