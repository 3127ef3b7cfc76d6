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


LOG_LEVELS = ("debug", "info", "notice", "warning", "error", "critical", "alert", "emergency")
"""MCP log levels (RFC 5424 severities), least severe first."""


class ClientRequestRefused(Exception):
    """The calling client cannot answer a request (it did not declare the capability, or it
    refused); the message is safe to hand to the upstream that asked."""

    def __init__(self, message: str, code: int = -32600) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class ClientChannel(Protocol):
    """The client that made the call, as a connector may use it while the call runs.

    Progress and log messages go back to it; `ask` sends it a request (MCP method names:
    "elicitation/create", "roots/list", "sampling/createMessage") and returns its result,
    or raises `ClientRequestRefused`. Cancellation needs no method: when the client cancels
    or goes away, the task running `Connector.call` is cancelled, and a connector lets the
    `CancelledError` through after aborting its upstream work. A connector that has no use
    for the channel ignores it.
    """

    @property
    def log_level(self) -> str | None:
        """The least severe level the client wants log messages at; None: none at all."""
        ...

    @property
    def wants_progress(self) -> bool:
        """Whether the client asked for progress notifications on this call."""
        ...

    def can_ask(self, method: str) -> bool:
        """Whether `ask(method, ...)` can be answered (the client declared the capability)."""
        ...

    async def progress(
        self, progress: float, total: float | None = None, message: str | None = None
    ) -> None: ...

    async def log(self, level: str, data: Any, logger: str | None = None) -> None: ...

    async def ask(self, method: str, params: Mapping[str, Any]) -> Mapping[str, Any]: ...


class SilentChannel:
    """No client to talk to: nothing is reported, every request is refused."""

    log_level: str | None = None
    wants_progress = False

    def can_ask(self, method: str) -> bool:
        return False

    async def progress(self, progress: float, total: float | None = None, message: str | None = None) -> None:
        return None

    async def log(self, level: str, data: Any, logger: str | None = None) -> None:
        return None

    async def ask(self, method: str, params: Mapping[str, Any]) -> Mapping[str, Any]:
        raise ClientRequestRefused(f"no client can answer '{method}' here")


SILENT: ClientChannel = SilentChannel()


@dataclass(frozen=True, slots=True)
class CallContext:
    """What the broker hands a connector with each call, besides the arguments.

    `secrets` holds the clear values of the secrets this connector's config references
    (by reference name), resolved for this agent at the last moment. A connector applies
    them to the upstream request and never logs, returns or stores them. `channel` is the
    calling client (progress, log messages, requests to it).
    """

    agent: str | None = None
    secrets: Mapping[str, str] = field(default_factory=dict)
    channel: ClientChannel = SILENT


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
