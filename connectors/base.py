"""The small protocols upstream kinds implement.

Every connector offers tools (`Connector`): it turns a validated tool call into an upstream
request and the upstream's answer into a `ToolOutput`. Resources, resource templates,
prompts and completion are optional capabilities, one small Protocol each
(`OffersResources`, `OffersPrompts`, `OffersCompletion`), checked with `isinstance` the way
httpx checks its transports. A connector knows nothing of agents, policies or the broker:
those concerns wrap around it in the broker's pipeline.

Names and URIs here are local to the connector: the broker namespaces them (tool and prompt
names as `<connector>.<name>`, resource URIs as `broker://<connector>/<uri>`), or shows them
verbatim for an mcp connector with `prefix: false` (broker/offerings.py).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from connectors.jsonwire import compact_json

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
    execution: Mapping[str, Any] | None = None
    """MCP ToolExecution, e.g. {"taskSupport": "optional"}: how the upstream lets it run as a task."""


@dataclass(frozen=True, slots=True)
class InputRequired:
    """The call needs the client's answers before it can finish (MCP 2026-07-28 input-required).

    `requests` are MCP input requests (`elicitation/create`, `sampling/createMessage`,
    `roots/list`) as JSON, by key; `state` is the connector's own continuation (JSON), handed
    back in `Resume.state` with the client's answers when the client retries the call."""

    requests: Mapping[str, Mapping[str, Any]]
    state: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class TaskStep:
    """One step of an MCP task (2025-11-25), see broker/mcp/tasks.py: `tools/call` starts the
    call as a task (`params` is the client's task metadata, e.g. `{"ttl": 60000}`); `tasks/get`,
    `tasks/result` and `tasks/cancel` ask about the upstream task (`params` is `{"taskId": ...}`
    with the upstream's own id)."""

    method: str
    params: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Resume:
    """A retried call: the client's answers to an earlier `InputRequired`, by key, and its state."""

    responses: Mapping[str, Mapping[str, Any]]
    state: Mapping[str, Any]


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
    input_required: InputRequired | None = None
    """Set instead of a result when the client must answer first (`content` is then empty)."""
    task: Mapping[str, Any] | None = None
    """Set instead of a result for a task step that answers with a task (`CreateTaskResult` for
    `tools/call`, the `Task` for `tasks/get` and `tasks/cancel`), as the upstream sent it."""

    @classmethod
    def from_json(cls, value: Any, meta: Mapping[str, Any] | None = None) -> ToolOutput:
        """Wrap a decoded JSON answer: text for every client, structure where it is an object."""
        text = compact_json(value)
        structured = value if isinstance(value, dict) else {"result": value}
        return cls(content=[{"type": "text", "text": text}], structured=structured, meta=meta or {})


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

    @property
    def asks_on_stream(self) -> bool:
        """Whether the client answers requests sent on its open stream during the call (an MCP
        2025 session that declared a capability), rather than through input-required results
        (2026-07-28). An MCP upstream that asks that way must then be reached the same way."""
        ...

    def can_ask(self, method: str) -> bool:
        """Whether `ask(method, ...)` can be answered (the client declared the capability)."""
        ...

    def defers(self, method: str) -> bool:
        """Whether the client answers `method` only through an input-required result and its
        retry (MCP 2026-07-28): `ask` cannot reach it during the call, the call must end with
        an `InputRequired` output instead."""
        ...

    def capabilities(self) -> Mapping[str, Any]:
        """The MCP client capabilities that can be honoured for this caller (`sampling`,
        `elicitation`, `roots`, as ClientCapabilities JSON): what an MCP connector declares to
        its upstream for the call."""
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
    asks_on_stream = False

    def can_ask(self, method: str) -> bool:
        return False

    def defers(self, method: str) -> bool:
        return False

    def capabilities(self) -> Mapping[str, Any]:
        return {}

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
    assertion: Callable[[str], str] | None = field(default=None, repr=False)
    """The gateway's signed statement of who is calling, for an audience (`auth: {type:
    gateway_jwt}`); None when the broker offers none."""
    subject_token: str | None = field(default=None, repr=False)
    """The signed-in user's own access token, only for `auth: {type: token_exchange}` to
    exchange at the identity provider; never sent upstream. None for agent keys."""
    user_token: str | None = field(default=None, repr=False)
    """The end user's own access token at this upstream (`auth: {type: user_oauth}`), from the
    grant they completed through the gateway. None when the connector has no per-user grant."""
    renew_user_token: Callable[[str], Awaitable[str]] | None = field(default=None, repr=False)
    """After the upstream refused `user_token` (HTTP 401): a renewed one (the broker refreshes
    the grant), or the broker's error saying the user must connect again."""
    end_user: str | None = None
    """Who the agent acts for (OAuth callers), so per-user upstream sessions stay apart."""
    resume: Resume | None = None
    """A retried call: the client's answers to the `InputRequired` this call ended with before."""
    task: TaskStep | None = None
    """The call is a step of an MCP task rather than a plain call (broker/mcp/tasks.py)."""
    target: str | None = None
    """What the call is for, as the gateway names it (a tool, resource URI or prompt): the
    subject of the gateway's signed statement, which names it."""


NO_CONTEXT = CallContext()


@dataclass(frozen=True, slots=True)
class ResourceSpec:
    """A resource a connector offers, by its local URI. `extra` holds further MCP `Resource`
    fields as the upstream gave them (title, size, icons, annotations, `_meta`), camelCase."""

    uri: str
    name: str
    description: str | None = None
    mime_type: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ResourceTemplateSpec:
    """An RFC 6570 URI template over local URIs; `extra` as for `ResourceSpec`."""

    uri_template: str
    name: str
    description: str | None = None
    mime_type: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PromptSpec:
    """A prompt a connector offers, named locally. `arguments` are MCP `PromptArgument`
    objects as dicts (name, description, required); `extra` as for `ResourceSpec`."""

    name: str
    description: str | None = None
    arguments: Sequence[Mapping[str, Any]] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ResourceOutput:
    """A resources/read answer: MCP resource contents as dicts (`uri` local, `mimeType`, and
    `text` or `blob`), and the result's `_meta`."""

    contents: Sequence[Mapping[str, Any]]
    meta: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PromptOutput:
    """A prompts/get answer: MCP prompt messages as dicts (`role`, `content`)."""

    messages: Sequence[Mapping[str, Any]]
    description: str | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CompletionOutput:
    """A completion/complete answer: candidate values for one argument."""

    values: Sequence[str]
    total: int | None = None
    has_more: bool | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CompletionRef:
    """What an argument is completed for: a prompt (`kind` "prompt", local name) or a resource
    template (`kind` "resource", local URI template)."""

    kind: str
    name: str


Output = ToolOutput | ResourceOutput | PromptOutput | CompletionOutput
"""Whatever a connector answers, one type per request kind."""


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


@runtime_checkable
class OffersResources(Protocol):
    """A connector with resources (and templates) to read."""

    def resources(self) -> Sequence[ResourceSpec]:
        """The resources it lists now, in a stable order."""
        ...

    def resource_templates(self) -> Sequence[ResourceTemplateSpec]: ...

    async def read_resource(self, uri: str, context: CallContext = NO_CONTEXT) -> ResourceOutput:
        """Read one resource by its local URI, listed or matching a template. Raises
        `connectors.errors.UnknownResource` when there is none, another `ConnectorError`
        for every upstream failure."""
        ...


@runtime_checkable
class OffersSubscriptions(Protocol):
    """A connector whose resources announce their changes (`notifications/resources/updated`)."""

    async def watch_resource(self, uri: str, subscribe: bool, context: CallContext = NO_CONTEXT) -> None:
        """Ask the upstream to announce changes of local `uri` (or to stop)."""
        ...

    def on_resource_updated(self, listener: Callable[[str], None]) -> None:
        """Call `listener(local uri)` on the event loop whenever the upstream announces a change."""
        ...


@runtime_checkable
class OffersPrompts(Protocol):
    """A connector with prompts."""

    def prompts(self) -> Sequence[PromptSpec]: ...

    async def get_prompt(
        self, name: str, arguments: Mapping[str, str], context: CallContext = NO_CONTEXT
    ) -> PromptOutput: ...


@runtime_checkable
class OffersCompletion(Protocol):
    """A connector that completes prompt arguments and resource-template variables."""

    async def complete(
        self,
        ref: CompletionRef,
        argument: str,
        value: str,
        known: Mapping[str, str],
        context: CallContext = NO_CONTEXT,
    ) -> CompletionOutput:
        """Candidates for `argument` starting from `value`; `known` holds the arguments
        already chosen."""
        ...
