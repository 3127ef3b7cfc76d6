"""What registering a connector checks beyond its own config: tool names that would collide
with other connectors', scanner flags to warn the operator about, and pins not to lose; and
the secrets an upstream must be reached with while it is registered.

Shared by /admin/connectors, /admin/apply and the review endpoints (diff/approve).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from broker.catalog import Snapshot
from broker.errors import Conflict, Problem
from broker.names import name_conflicts
from broker.offerings import Claims, claims_of, offering_conflicts
from broker.secrets.vault import Vault
from connectors.base import NO_CONTEXT, CallContext
from connectors.mcp import McpConnectorConfig, exposed_name
from connectors.registry import ConnectorConfig

_PINNED = frozenset({"tools", "pins", "flags", "offering_pins"})
"""What registration writes into an mcp config; the operator's settings are the rest."""

_FINDING = re.compile(
    r"^(?P<category>[a-z-]+): (?P<what>.*?)(?: \(at (?P<where>[^()]+(?: \(key\))?)\))?$", re.DOTALL
)
_SAYS = {
    "instruction-block": "contains an instruction block aimed at the model",
    "override": "gives orders to the assistant",
    "concealment": "asks to keep something from the user",
    "cross-tool": "tells the model what to do before using tools",
    "sensitive-path": "names a credential location",
    "invisible-unicode": "contains invisible characters",
    "bidi-control": "contains bidirectional text controls",
    "tag-characters": "hides text in invisible Unicode tag characters",
}


def registration_secrets(config: ConnectorConfig) -> frozenset[str]:
    """The secrets registration itself needs: an mcp upstream is connected to list its tools."""
    return config.secret_refs() if isinstance(config, McpConnectorConfig) else frozenset()


async def registration_context(vault: Vault, config: ConnectorConfig) -> CallContext:
    """The call context to prepare `config` with: its `registration_secrets`, resolved through
    the vault as the InjectCredentials stage resolves them for a call, with no agent (so the
    shared secrets, not per-agent overrides, are used)."""
    refs = registration_secrets(config)
    if not refs:
        return NO_CONTEXT
    return CallContext(agent=None, secrets=await vault.resolve(refs))


def refuse_conflicts(
    snapshot: Snapshot,
    incoming: Mapping[str, Claims],
    locations: Mapping[str, tuple[str | int, ...]] | None = None,
) -> None:
    """Raise Conflict when the incoming connectors' names (tools, prompts, resource URIs and
    templates) collide with each other's or with the other connectors' in the live catalog."""
    others = {
        name: claims_of(connector) for name, connector in snapshot.connectors.items() if name not in incoming
    }
    tools = name_conflicts(
        {name: claims.tools for name, claims in incoming.items()},
        {name: claims.tools for name, claims in others.items()},
    )
    offered = offering_conflicts(incoming, others)
    found = {name: tools.get(name, []) + offered.get(name, []) for name in incoming}
    found = {name: problems for name, problems in found.items() if problems}
    if not found:
        return
    lines = [f"connector '{name}': {problem}" for name, problems in found.items() for problem in problems]
    problems = (
        [Problem(locations[name], problem) for name, items in found.items() for problem in items]
        if locations is not None
        else []
    )
    raise Conflict(
        "names must be unique across connectors (tools, prompts, resource URIs and templates), and a "
        "connector's prefix is its own: "
        + "; ".join(lines)
        + ". Rename the connector, or keep its prefix (`prefix: true`) so its names live in its namespace.",
        problems=problems,
    )


def flag_warnings(config: ConnectorConfig | Mapping[str, Any]) -> list[str]:
    """The hidden-instruction scanner's findings of an mcp config, one line per finding:
    "tool files.read: description contains an instruction block aimed at the model: ..."."""
    if not isinstance(config, McpConnectorConfig):
        if not isinstance(config, Mapping) or config.get("kind") != "mcp":
            return []
        try:
            config = McpConnectorConfig.model_validate(config)
        except ValidationError:
            return []
    return [
        f"tool {exposed_name(config, tool)}: {describe_finding(finding)}"
        for tool, findings in config.flags.items()
        for finding in findings
    ]


def describe_finding(finding: str) -> str:
    """A scanner finding ('instruction-block: '<IMPORTANT>' (at description)') in words."""
    match = _FINDING.match(finding)
    if match is None or match["category"] not in _SAYS:
        return finding
    where = match["where"] or "the definition"
    return f"{where} {_SAYS[match['category']]}: {match['what']} [{match['category']}]"


def keep_reviewed(config: ConnectorConfig, stored: Mapping[str, Any] | None) -> McpConnectorConfig | None:
    """The stored config when an mcp connector is registered again with the same settings.

    Registering again (a re-applied file) must not approve what changed upstream in the
    meantime: the stored pins stay, and drift goes through `broker connectors diff/approve`.
    None when the settings differ, when the new config brings its own pins, or when the
    connector is new: then registration pins the upstream as it is now.
    """
    if not isinstance(config, McpConnectorConfig) or config.tools is not None or config.pins:
        return None
    if stored is None or stored.get("kind") != "mcp":
        return None
    try:
        kept = McpConnectorConfig.model_validate(stored)
    except ValidationError:
        return None
    settings = config.model_dump(mode="json", exclude=set(_PINNED))
    return kept if kept.model_dump(mode="json", exclude=set(_PINNED)) == settings else None
