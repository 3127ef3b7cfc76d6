"""The vocabulary of the tool pipeline: the call value and the stage shape."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from broker.catalog import AgentIdentity, CatalogTool, Snapshot
from connectors.base import SILENT, ClientChannel, ToolOutput
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
    masking_fingerprint: str | None = None
    """The agent's effective PII masking (`broker.pii.plan.MaskingPlan.fingerprint`), set by Authorize
    once the call is allowed, so before RateLimit and Cache: equal for two agents exactly when
    their results are masked alike. None only before Authorize has run."""
    masking_per_agent: bool = False
    """Whether masked output differs per agent (tokens): such results are never shared. Set with
    `masking_fingerprint`."""
    masked: dict[str, int] | None = None
    """Entities masked in the result by type, set by MaskPII for the audit record (None: nothing)."""
    cache_bypass: bool = False
    """The caller asked for a fresh result (`_meta` {"broker/cache": "bypass"}); the policy may refuse."""
    notes: dict[str, Any] = field(default_factory=dict)
    """Facts a stage wants in the audit record (e.g. cache status); never secrets."""
    secrets: Mapping[str, str] = field(default_factory=dict, repr=False)
    """Clear secret values for the connector, filled in by InjectCredentials just before dispatch."""
    channel: ClientChannel = SILENT
    """The calling client (progress, log messages, requests to it); MaskPII masks what goes to it."""


Next = Callable[[ToolCall], Awaitable[ToolOutput]]


class Stage(Protocol):
    async def __call__(self, call: ToolCall, call_next: Next) -> ToolOutput: ...
