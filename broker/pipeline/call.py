"""The vocabulary of the tool pipeline: the call value and the stage shape."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from broker.catalog import AgentIdentity, CatalogTool, Snapshot
from connectors.base import ToolOutput
from policies import Decision


@dataclass(slots=True)
class ToolCall:
    """One tools/call as it travels through the stages. Stages fill in what they learn."""

    request_id: str
    agent: AgentIdentity
    tool_name: str
    arguments: dict[str, Any]
    snapshot: Snapshot
    only_connectors: frozenset[str] | None = None
    tool: CatalogTool | None = None
    decision: Decision | None = None
    notes: dict[str, Any] = field(default_factory=dict)
    """Facts a stage wants in the audit record (e.g. cache status); never secrets."""
    secrets: Mapping[str, str] = field(default_factory=dict, repr=False)
    """Clear secret values for the connector, filled in by InjectCredentials just before dispatch."""


Next = Callable[[ToolCall], Awaitable[ToolOutput]]


class Stage(Protocol):
    async def __call__(self, call: ToolCall, call_next: Next) -> ToolOutput: ...
