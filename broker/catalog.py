"""An immutable snapshot of everything a tool call needs: keys, agents, tools, policies.

The hot path reads only a snapshot, never the database. Each snapshot memoises the tool
list it has built for an agent, so tools/list is a dictionary lookup after the first call.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import mcp_types as types
from jsonschema import Draft202012Validator

from connectors.base import Connector, ToolSpec
from policies import PolicySet, Subject


@dataclass(frozen=True, slots=True)
class AgentIdentity:
    id: str
    name: str
    team: str | None

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
    """A tool as agents see it: qualified name `<connector>.<tool>`, prebuilt MCP definition."""

    name: str
    connector: str
    spec: ToolSpec
    definition: types.Tool
    validator: Draft202012Validator


def catalog_tool(connector: str, spec: ToolSpec) -> CatalogTool:
    name = f"{connector}.{spec.name}"
    annotations = types.ToolAnnotations.model_validate(spec.annotations) if spec.annotations else None
    definition = types.Tool(
        name=name,
        description=spec.description,
        input_schema=dict(spec.input_schema),
        output_schema=dict(spec.output_schema) if spec.output_schema else None,
        annotations=annotations,
    )
    return CatalogTool(
        name=name,
        connector=connector,
        spec=spec,
        definition=definition,
        validator=Draft202012Validator(
            dict(spec.input_schema), format_checker=Draft202012Validator.FORMAT_CHECKER
        ),
    )


@dataclass(slots=True)
class Snapshot:
    revision: int
    policy_revision: int
    policy_set: PolicySet
    keys: Mapping[str, KeyEntry]
    tools: Mapping[str, CatalogTool]
    """In a stable order: by connector name, then the connector's own order."""
    connectors: Mapping[str, Connector]
    _visible: dict[tuple[str, frozenset[str] | None], list[types.Tool]] = field(default_factory=dict)

    def visible_tools(self, agent: AgentIdentity, only: frozenset[str] | None) -> list[types.Tool]:
        """The tools the agent's policy grants, narrowed to the `only` connectors when given."""
        memo_key = (agent.name, only)
        found = self._visible.get(memo_key)
        if found is None:
            subject = agent.subject
            found = [
                tool.definition
                for tool in self.tools.values()
                if (only is None or tool.connector in only) and self.policy_set.visible(subject, tool.name)
            ]
            self._visible[memo_key] = found
        return found

    def describe(self) -> dict[str, Any]:
        return {"revision": self.revision, "policy_revision": self.policy_revision, "tools": len(self.tools)}
