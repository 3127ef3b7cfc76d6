"""An immutable snapshot of everything a request needs: keys, agents, tools, resources,
prompts, policies.

The hot path reads only a snapshot, never the database. Each snapshot memoises the lists
it has built for an agent, so tools/list (resources/list, prompts/list) is a dictionary
lookup after the first call.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, TypeVar, runtime_checkable

import mcp_types as types
from cachetools import LRUCache
from jsonschema import Draft202012Validator
from mcp.shared.inbound import x_mcp_header_map

from broker.flatschema import Acceptor, acceptor
from broker.names import own_names, qualified_name
from broker.uris import split_uri, template_matches
from connectors.base import (
    CallContext,
    Connector,
    OffersResources,
    PromptSpec,
    ToolSpec,
)
from connectors.mcp import Drift, PinnedTool
from policies import PolicySet, Subject


@dataclass(frozen=True, slots=True)
class AgentIdentity:
    """The caller: an agent (the client application), acting for an end user when it came with
    an OAuth token that names one (`sub`). Policies match the agent and its team; the end user
    is recorded in audit records and the LLM ledger."""

    id: str
    name: str
    team: str | None
    end_user: str | None = None
    subject_token: str | None = field(default=None, repr=False, compare=False)
    """The OAuth access token the caller presented, kept only for token exchange (RFC 8693)
    with its identity provider; never logged, audited, cached or sent upstream."""

    @property
    def subject(self) -> Subject:
        return Subject(name=self.name, team=self.team)


@dataclass(frozen=True, slots=True)
class KeyEntry:
    agent: AgentIdentity
    prefix: str
    expires_at: datetime | None


@dataclass(frozen=True, slots=True)
class CatalogTool:
    """A tool as agents see it: its qualified name (`<connector>.<tool>` unless the connector
    exposes it otherwise), prebuilt MCP definition."""

    name: str
    connector: str
    spec: ToolSpec
    definition: types.Tool
    validator: Draft202012Validator
    accept: Acceptor | None = field(compare=False, repr=False)
    """The quick proof that arguments are valid, when the input schema is flat (`broker.flatschema`);
    None: the validator alone decides."""
    wire: dict[str, dict[str, Any]] = field(default_factory=dict, compare=False, repr=False)
    """The definition as a tools/list result carries it, per protocol version (`broker.mcp.listing`)."""
    param_headers: bool = False
    """Whether the input schema declares `Mcp-Param-*` headers (`x-mcp-header`), which a 2026-07-28
    tools/call must then mirror: such calls go through the SDK's check (`broker.mcp.fastpath`)."""


@dataclass(frozen=True, slots=True)
class CatalogResource:
    """A resource as clients see it: its gateway URI (`broker://<connector>/<local>`), or the
    upstream's own URI (`verbatim`)."""

    uri: str
    connector: str
    local_uri: str
    definition: types.Resource
    verbatim: bool = False
    """Shown as the upstream's own URI (an mcp connector with `prefix: false`)."""


@dataclass(frozen=True, slots=True)
class CatalogTemplate:
    """A resource template as clients see it, its URI template namespaced like resources."""

    uri_template: str
    connector: str
    local_template: str
    definition: types.ResourceTemplate
    verbatim: bool = False


@dataclass(frozen=True, slots=True)
class CatalogPrompt:
    """A prompt as clients see it: `<connector>.<prompt>`, or the upstream's own name."""

    name: str
    connector: str
    spec: PromptSpec
    definition: types.Prompt
    verbatim: bool = False


@dataclass(frozen=True, slots=True)
class QuarantinedTool:
    """A pinned upstream tool held back until an operator reviews how it changed."""

    name: str
    connector: str
    reason: str
    """Why, for the agent: 'its definition changed upstream ...'."""


@runtime_checkable
class Federated(Protocol):
    """A connector whose tools follow an upstream at run time (`kind: mcp`).

    `catalog_version` rises whenever `tools()` or `drift()` may have changed, so the broker
    can rebuild its snapshot from the connectors it has without asking the database.
    """

    @property
    def catalog_version(self) -> int: ...

    def exposed_name(self, tool: str) -> str: ...

    def drift(self) -> Drift: ...

    def pinned_tools(self) -> Sequence[PinnedTool]: ...

    def secret_refs(self) -> frozenset[str]: ...

    async def live_tools(self, context: CallContext | None = None) -> list[PinnedTool]: ...


def connector_tools(name: str, connector: Connector) -> tuple[list[CatalogTool], list[QuarantinedTool]]:
    """What a connector puts in the catalog now: its tools, and its quarantined ones."""
    tools = [catalog_tool(name, spec, qualified_name(connector, spec.name)) for spec in connector.tools()]
    if not isinstance(connector, Federated):
        return tools, []
    drift = connector.drift()
    held = [
        QuarantinedTool(connector.exposed_name(tool), name, "the upstream no longer lists it")
        for tool in drift.removed
    ] + [
        QuarantinedTool(
            connector.exposed_name(tool), name, "its definition changed upstream since it was approved"
        )
        for tool in drift.changed
    ]
    return tools, held


def claimed_names(connector: Connector) -> list[str]:
    """Every name a connector may put in the catalog, its quarantined tools included."""
    names = [qualified_name(connector, spec.name) for spec in connector.tools()]
    if isinstance(connector, Federated):
        names += [connector.exposed_name(tool.name) for tool in connector.pinned_tools()]
    return list(dict.fromkeys(names))


def catalog_tool(connector: str, spec: ToolSpec, name: str | None = None) -> CatalogTool:
    """The catalog entry for a connector's tool; `name` defaults to `<connector>.<tool>`."""
    name = name or f"{connector}.{spec.name}"
    annotations = types.ToolAnnotations.model_validate(spec.annotations) if spec.annotations else None
    definition = types.Tool(
        name=name,
        description=spec.description,
        input_schema=dict(spec.input_schema),
        output_schema=dict(spec.output_schema) if spec.output_schema else None,
        annotations=annotations,
        execution=types.ToolExecution.model_validate(spec.execution) if spec.execution else None,
    )
    schema = dict(spec.input_schema)
    return CatalogTool(
        name=name,
        connector=connector,
        spec=spec,
        definition=definition,
        validator=Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER),
        accept=acceptor(schema),
        param_headers=bool(x_mcp_header_map(spec.input_schema)),
    )


D = TypeVar("D", covariant=True)


class _Offered(Protocol[D]):
    """A resource, template or prompt of the catalog: its connector and MCP definition."""

    @property
    def connector(self) -> str: ...

    @property
    def definition(self) -> D: ...


AGENT_VIEWS = 8192
"""Views kept per snapshot by (agent, narrowing): every agent of a large deployment, several times."""
SHARED_VIEWS = 512
"""Views kept per snapshot by (applicable policies, narrowing); each holds up to the whole catalog."""


@dataclass(slots=True)
class Snapshot:
    revision: int
    policy_revision: int
    policy_set: PolicySet
    keys: Mapping[str, KeyEntry]
    tools: Mapping[str, CatalogTool]
    """In a stable order: by connector name, then the connector's own order."""
    connectors: Mapping[str, Connector]
    quarantined: Mapping[str, QuarantinedTool] = field(default_factory=dict)
    """Pinned upstream tools held back from every agent, by the name agents knew them by."""
    resources: Mapping[str, CatalogResource] = field(default_factory=dict)
    """By gateway URI, in connector order."""
    templates: Sequence[CatalogTemplate] = ()
    prompts: Mapping[str, CatalogPrompt] = field(default_factory=dict)
    """By name (`<connector>.<prompt>`), in connector order."""
    agents: Mapping[str, AgentIdentity] = field(default_factory=dict)
    """Enabled agents by name, keys or not: OAuth callers are mapped to these."""
    # The views below are keyed by the caller's MCP-Context narrowing, which the client chooses
    # freely: bounded, least recently used first out, so no client can grow them without limit.
    _visible: LRUCache[tuple[str, frozenset[str] | None], list[types.Tool]] = field(
        default_factory=lambda: LRUCache(AGENT_VIEWS)
    )
    _granted: LRUCache[tuple[str, frozenset[str] | None], tuple[CatalogTool, ...]] = field(
        default_factory=lambda: LRUCache(AGENT_VIEWS)
    )
    _shared_views: LRUCache[tuple[tuple[str, ...], frozenset[str] | None], tuple[CatalogTool, ...]] = field(
        default_factory=lambda: LRUCache(SHARED_VIEWS)
    )
    _visible_other: LRUCache[tuple[str, str, frozenset[str] | None], list[Any]] = field(
        default_factory=lambda: LRUCache(AGENT_VIEWS)
    )
    _template_index: dict[str, CatalogTemplate] | None = None
    _verbatim_readers: tuple[str, ...] | None = None
    memo: dict[Any, Any] = field(default_factory=dict)
    """What a face derives from this snapshot and keeps while it lives (the MCP fast path's
    serialised tools/list pages); bounded by whoever fills it."""

    def resolve_resource(self, uri: str) -> tuple[str, str] | None:
        """(connector, local URI) for a URI a client reads, or None when no connector owns it:
        a listed resource; else the namespace of a connector that prefixes (`broker://c/...`);
        else the one connector keeping upstream names with a template that produces it; else,
        when exactly one connector keeps upstream names and offers resources, that one (an
        upstream may serve URIs it does not list). Two candidates: None, never a guess."""
        listed = self.resources.get(uri)
        if listed is not None:
            return listed.connector, listed.local_uri
        parts = split_uri(uri)
        if parts is not None and parts[0] in self.connectors and not self._verbatim_connector(parts[0]):
            return parts
        owners = {t.connector for t in self.templates if t.verbatim and template_matches(t.uri_template, uri)}
        if not owners:  # nothing claims it: the one connector keeping upstream URIs, if only one does
            if self._verbatim_readers is None:
                self._verbatim_readers = tuple(
                    name
                    for name, connector in self.connectors.items()
                    if own_names(connector) and isinstance(connector, OffersResources)
                )
            owners = set(self._verbatim_readers)
        return (owners.pop(), uri) if len(owners) == 1 else None

    def resolve_template(self, uri_template: str) -> tuple[str, str] | None:
        """(connector, local URI template) for a listed template (a completion's reference)."""
        if self._template_index is None:
            self._template_index = {t.uri_template: t for t in self.templates}
        listed = self._template_index.get(uri_template)
        if listed is not None:
            return listed.connector, listed.local_template
        parts = split_uri(uri_template)
        if parts is not None and parts[0] in self.connectors and not self._verbatim_connector(parts[0]):
            return parts
        return None

    def _verbatim_connector(self, name: str) -> bool:
        return own_names(self.connectors[name])

    def visible_tools(self, agent: AgentIdentity, only: frozenset[str] | None) -> list[types.Tool]:
        """The tools the agent's policy grants, narrowed to the `only` connectors when given."""
        memo_key = (agent.name, only)
        found = self._visible.get(memo_key)
        if found is None:
            found = self._visible[memo_key] = [tool.definition for tool in self.granted_tools(agent, only)]
        return found

    def granted_tools(self, agent: AgentIdentity, only: frozenset[str] | None) -> tuple[CatalogTool, ...]:
        """The catalog entries behind `visible_tools`, in the same order; memoised per agent view.

        Agents to whom the same policies apply see the same tools, so a view is built once per
        set of applicable policies (1,000 agents of one team: once, not 1,000 times).
        """
        memo_key = (agent.name, only)
        found = self._granted.get(memo_key)
        if found is None:
            grants = self.policy_set.grants_for(agent.subject)
            shared_key = (grants.policies, only)
            found = self._shared_views.get(shared_key)
            if found is None:
                reach = grants.connectors
                found = self._shared_views[shared_key] = tuple(
                    tool
                    for tool in self.tools.values()
                    if (only is None or tool.connector in only)
                    and (reach is None or tool.connector in reach)
                    and self.policy_set.visible(grants.subject, tool.name)
                )
            self._granted[memo_key] = found
        return found

    def visible_resources(self, agent: AgentIdentity, only: frozenset[str] | None) -> list[types.Resource]:
        """The resources the agent's policy grants (by URI), narrowed to the `only` connectors."""
        return self._visible_items(
            "resources",
            agent,
            only,
            self.resources.values(),
            lambda item: item.uri,
            self.policy_set.resource_visible,
        )

    def visible_templates(
        self, agent: AgentIdentity, only: frozenset[str] | None
    ) -> list[types.ResourceTemplate]:
        """The templates whose URI template the agent's policy grants as written."""
        return self._visible_items(
            "templates",
            agent,
            only,
            self.templates,
            lambda item: item.uri_template,
            self.policy_set.resource_visible,
        )

    def visible_prompts(self, agent: AgentIdentity, only: frozenset[str] | None) -> list[types.Prompt]:
        return self._visible_items(
            "prompts",
            agent,
            only,
            self.prompts.values(),
            lambda item: item.name,
            self.policy_set.prompt_visible,
        )

    def _visible_items(
        self,
        kind: str,
        agent: AgentIdentity,
        only: frozenset[str] | None,
        items: Iterable[_Offered[D]],
        name_of: Callable[[Any], str],
        granted: Callable[[Subject, str], bool],
    ) -> list[D]:
        """The definitions of `items` (resources, templates or prompts) the agent's policy grants
        by `name_of(item)`, in the `only` connectors; memoised per agent view."""
        memo_key = (kind, agent.name, only)
        found = self._visible_other.get(memo_key)
        if found is None:
            subject = agent.subject
            found = self._visible_other[memo_key] = [
                item.definition
                for item in items
                if (only is None or item.connector in only) and granted(subject, name_of(item))
            ]
        return found

    def describe(self) -> dict[str, Any]:
        return {
            "revision": self.revision,
            "policy_revision": self.policy_revision,
            "tools": len(self.tools),
            "resources": len(self.resources),
            "resource_templates": len(self.templates),
            "prompts": len(self.prompts),
        }
