"""The vocabulary of the pipeline: one request value per MCP operation, and the stage shape.

`Request` is what every operation shares (who asks, on which snapshot, what the stages
learned); its faces say what is asked: `ToolCall` (tools/call), `ResourceRead`
(resources/read), `PromptGet` (prompts/get) and `Completion` (completion/complete). They
all travel through the one stage list; each stage knows what it does for each face.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from broker.catalog import AgentIdentity, CatalogPrompt, CatalogTool, Snapshot
from connectors.base import SILENT, ClientChannel, CompletionRef, Output, Resume, TaskStep
from policies import Decision


@dataclass(slots=True, kw_only=True)
class Request:
    """One upstream operation as it travels through the stages. Stages fill in what they learn."""

    operation: ClassVar[str]
    """The MCP method, e.g. 'tools/call': the audit record's and the metrics' `operation`."""

    request_id: str
    agent: AgentIdentity
    snapshot: Snapshot
    only_connectors: frozenset[str] | None = None
    connector: str | None = None
    """The connector that answers, set by Authorize once the target is resolved."""
    decision: Decision | None = None
    masking_fingerprint: str | None = None
    """The agent's effective PII masking (`broker.pii.plan.MaskingPlan.fingerprint`), set by Authorize
    once the request is allowed, so before RateLimit and Cache: equal for two agents exactly when
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
    assertion: Callable[[str], str] | None = field(default=None, repr=False)
    """Signs the gateway's statement of this caller for an upstream audience (InjectCredentials)."""
    user_token: str | None = field(default=None, repr=False)
    """The end user's own access token at the connector's upstream (`user_oauth`, InjectCredentials)."""
    renew_user_token: Callable[[str], Awaitable[str]] | None = field(default=None, repr=False)
    """Renews that token when the upstream refused it (InjectCredentials)."""
    channel: ClientChannel = SILENT
    """The calling client (progress, log messages, requests to it); MaskPII masks what goes to it."""

    @property
    def target(self) -> str:
        """What is asked for, as the client named it: a tool or prompt name, a resource URI."""
        raise NotImplementedError

    @property
    def known(self) -> bool:
        """Whether Authorize resolved the target (unknown ones are audited under a fixed label)."""
        return self.connector is not None


@dataclass(slots=True, kw_only=True)
class ToolCall(Request):
    """tools/call."""

    operation: ClassVar[str] = "tools/call"

    tool_name: str
    arguments: dict[str, Any]
    tool: CatalogTool | None = None
    canonical_arguments: str | None = None
    """The arguments' canonical JSON (`broker.canonical`), set by ValidateArguments for Audit's
    fingerprint; None when they could not be serialised or validation never ran."""
    resume: Resume | None = None
    """A retry carrying the client's answers to the input this call asked for before (2026-07-28)."""
    task: TaskStep | None = None
    """A step of an MCP task (start as a task, or get/result/cancel one): broker/mcp/tasks.py."""

    @property
    def target(self) -> str:
        return self.tool_name


@dataclass(slots=True, kw_only=True)
class ResourceRead(Request):
    """resources/read of a gateway URI (`broker://<connector>/<local uri>`)."""

    operation: ClassVar[str] = "resources/read"

    uri: str
    local_uri: str | None = None
    """The connector's own URI, set by Authorize."""

    @property
    def target(self) -> str:
        return self.uri


@dataclass(slots=True, kw_only=True)
class ResourceWatch(ResourceRead):
    """resources/subscribe (`subscribe`) or resources/unsubscribe: authorised, credentialed and
    audited like a read of the URI; never cached; the answer is empty."""

    operation: ClassVar[str] = "resources/subscribe"

    subscribe: bool = True


@dataclass(slots=True, kw_only=True)
class ResourceUnwatch(ResourceWatch):
    operation: ClassVar[str] = "resources/unsubscribe"

    subscribe: bool = False


@dataclass(slots=True, kw_only=True)
class PromptGet(Request):
    """prompts/get with the client's arguments (strings, as MCP defines them)."""

    operation: ClassVar[str] = "prompts/get"

    name: str
    arguments: dict[str, Any]
    prompt: CatalogPrompt | None = None

    @property
    def target(self) -> str:
        return self.name


@dataclass(slots=True, kw_only=True)
class Completion(Request):
    """completion/complete of one argument of a prompt or a resource template."""

    operation: ClassVar[str] = "completion/complete"

    ref_kind: str
    """'prompt' or 'resource', as `CompletionRef.kind`."""
    ref_name: str
    """The prompt's name or the template's URI template, as the client sees them."""
    argument: str
    value: str
    arguments: dict[str, Any] = field(default_factory=dict)
    """The arguments already chosen (`context.arguments`)."""
    local_ref: CompletionRef | None = None
    """The reference in the connector's own terms, set by Authorize."""

    @property
    def target(self) -> str:
        return self.ref_name


Next = Callable[[Request], Awaitable[Output]]


class Stage(Protocol):
    async def __call__(self, request: Request, call_next: Next, /) -> Output: ...
