"""The one small protocol every upstream kind implements.

A connector turns a validated tool call into an upstream request and the upstream's
answer into a `ToolOutput`. It knows nothing of agents, policies or the broker: those
concerns wrap around it in the broker's pipeline.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

CONNECTOR_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
"""Connector names: lower case, start with a letter; they prefix every tool name."""

TOOL_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
"""Local tool names (without the connector prefix), within MCP's allowed characters."""


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """A tool as a connector offers it, named locally (the broker adds `<connector>.`)."""

    name: str
    description: str
    input_schema: Mapping[str, Any]
    output_schema: Mapping[str, Any] | None = None
    annotations: Mapping[str, Any] | None = None
    """MCP ToolAnnotations fields, e.g. {"readOnlyHint": True, "idempotentHint": True}."""


@dataclass(frozen=True, slots=True)
class ToolOutput:
    """A successful upstream answer, shaped for an MCP CallToolResult.

    `content` holds MCP content blocks as plain dicts (`{"type": "text", "text": ...}`);
    `structured` is the JSON object for `structuredContent`, when the upstream gave one.
    """

    content: Sequence[Mapping[str, Any]]
    structured: Mapping[str, Any] | None = None
    is_error: bool = False
    meta: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, value: Any) -> ToolOutput:
        """Wrap a decoded JSON answer: text for every client, structure where it is an object."""
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        structured = value if isinstance(value, dict) else {"result": value}
        return cls(content=[{"type": "text", "text": text}], structured=structured)


@dataclass(frozen=True, slots=True)
class CallContext:
    """What the broker hands a connector with each call, besides the arguments.

    `secrets` holds the clear values of the secrets this connector's config references
    (by reference name), resolved for this agent at the last moment. A connector applies
    them to the upstream request and never logs, returns or stores them.
    """

    agent: str | None = None
    secrets: Mapping[str, str] = field(default_factory=dict)


NO_CONTEXT = CallContext()


@runtime_checkable
class Connector(Protocol):
    """An upstream the broker can call tools on."""

    @property
    def name(self) -> str: ...

    def tools(self) -> Sequence[ToolSpec]:
        """The tools this connector offers, in a stable order."""
        ...

    def secret_refs(self) -> frozenset[str]:
        """Names of the secrets its config references; the broker resolves these per call."""
        ...

    async def call(
        self, tool: str, arguments: Mapping[str, Any], context: CallContext = NO_CONTEXT
    ) -> ToolOutput:
        """Call one tool with arguments already validated against its input schema.

        Raises a `connectors.errors.ConnectorError` subclass for every upstream failure;
        its message is safe to show to the calling agent.
        """
        ...

    async def aclose(self) -> None:
        """Release connections and processes."""
        ...
