"""Upstream MCP servers (`kind: mcp`): federated tools, pinned at registration.

    kind: mcp
    name: files
    transport: stdio                 # or http, with url:, headers: and auth:
    command: [python, -m, files_server]
    secret_env: {FILES_TOKEN: {secret: files-token}}
    expose_new_tools: false

Registration (`prepare_mcp`) lists the upstream's tools and pins each definition (name,
description, input and output schema, annotations) by the SHA-256 of its canonical JSON;
the definitions, pins and the hidden-instruction scanner's findings (`flags`) are stored
in the config. At run time agents see only pinned definitions, a tool whose live
definition drifted from its pin is quarantined (hidden and refused), and `approve`
re-pins what an operator reviewed (`broker connectors diff/approve`).

Credentials: `auth` (http: bearer, header, basic, OAuth client credentials) and
`secret_env` (stdio) name secrets of the gateway's store, which the broker hands over with
each call; each distinct credential set (a per-agent override, a rotated secret) gets a
session of its own (stdio: a process), at most 8 per connector, least recently used closed
first. Secret values are blanked out of errors, stderr excerpts and results.

Outbound safety: an http upstream (and its OAuth token endpoint) must resolve to public
addresses unless `allow_private_network: true`; registration refuses one that does not,
and every request is checked again (connectors/netguard.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Sequence

from connectors.auth import OAuth2ClientCredentials
from connectors.base import NO_CONTEXT, CallContext
from connectors.errors import ConnectorConfigError, ConnectorError
from connectors.mcp.config import McpConnectorConfig, exposed_name
from connectors.mcp.connector import McpConnector, ToolQuarantined
from connectors.mcp.pins import (
    Drift,
    OfferingPins,
    PinnedTool,
    canonical_json,
    compute_drift,
    pin_of,
    pin_offerings,
    pin_tools,
)
from connectors.mcp.scan import scan_definition, scan_text
from connectors.netguard import refuse_private_destination


async def prepare_mcp(config: McpConnectorConfig, context: CallContext = NO_CONTEXT) -> McpConnectorConfig:
    """List the upstream's tools and return the config with definitions, pins and flags.

    Without `pins`, every tool the upstream lists is pinned as it is now. With `pins` (from
    an earlier registration or written by hand), those are kept and the upstream must match
    them; its other tools stay unpinned. `context` carries the secrets the config references
    (the shared ones are used). An http URL or token URL that resolves to a private address
    is refused unless `allow_private_network`. Raises ConnectorConfigError for the operator.
    """
    if config.url is not None:
        await refuse_private_destination(config.name, config.url, config.allow_private_network)
    if isinstance(config.auth, OAuth2ClientCredentials):
        await refuse_private_destination(config.name, config.auth.token_url, config.allow_private_network)
    probe = McpConnector(config.model_copy(update={"tools": [], "pins": {}, "flags": {}}))
    try:
        live = await probe.live_tools(CallContext(agent=None, secrets=context.secrets))
        offered = pin_offerings(probe.resources(), probe.resource_templates(), probe.prompts())
    except ConnectorError as exc:
        raise ConnectorConfigError(f"could not list the tools of '{config.name}': {exc.message}") from None
    finally:
        await probe.aclose()
    config = config.model_copy(update={"offering_pins": offered})
    flags = {
        tool: [f"unusable-name: {exposed_name(config, tool)!r} is not a valid MCP tool name; not exposed"]
        for tool in probe.unusable_tools
    }
    # hashing and scanning every definition of a big upstream is seconds of Python: not on the loop
    return await asyncio.to_thread(_pinned, config, live, flags)


def _pinned(
    config: McpConnectorConfig, live: list[PinnedTool], flags: dict[str, list[str]]
) -> McpConnectorConfig:
    """The config with the listed tools pinned; refused when it brings pins they do not match."""
    if config.pins:
        by_name = {tool.name: tool for tool in live}
        mismatched = sorted(
            name
            for name, pin in config.pins.items()
            if name not in by_name or pin_of(by_name[name].definition()) != pin
        )
        if mismatched:
            raise ConnectorConfigError(
                f"the tools of '{config.name}' do not match its pins: {', '.join(mismatched)} "
                "(changed or missing upstream); review them, or register without `pins` to pin anew"
            )
        live = [by_name[name] for name in config.pins]
    tools, pins = pin_tools(tool.definition() for tool in live)
    execution = {tool.name: tool.execution for tool in live}
    tools = [tool.model_copy(update={"execution": execution.get(tool.name)}) for tool in tools]
    return _with_tools(config, tools, pins, flags)


def approve(
    config: McpConnectorConfig, live: Sequence[PinnedTool], names: Collection[str] | None = None
) -> McpConnectorConfig:
    """Re-pin reviewed tools from live definitions (from `McpConnector.live_tools()`).

    `names`: the tools to approve; default every drifted one. A changed or new tool is
    pinned as it is live, a removed one loses its pin. Pure: returns a new config.
    """
    if config.tools is None:
        raise ConnectorConfigError(f"connector '{config.name}' has no pinned tools yet: register it first")
    by_name = {tool.name: tool for tool in live}
    drift = compute_drift(config.pins, {name: pin_of(tool.definition()) for name, tool in by_name.items()})
    targets = set(drift.changed + drift.removed + drift.new) if names is None else set(names)
    unknown = sorted(targets - set(config.pins) - set(by_name))
    if unknown:
        raise ConnectorConfigError(f"'{config.name}' has no pinned or live tool {', '.join(unknown)}")
    pinned = {tool.name: tool for tool in config.tools}
    for name in targets:
        if name in by_name:
            pinned[name] = by_name[name]
        else:
            pinned.pop(name, None)
    tools, pins = pin_tools(tool.definition() for tool in pinned.values())
    return _with_tools(config, tools, pins, {})


def _with_tools(
    config: McpConnectorConfig, tools: list[PinnedTool], pins: dict[str, str], flags: dict[str, list[str]]
) -> McpConnectorConfig:
    for tool in tools:
        findings = scan_definition(tool.definition())
        if findings:
            flags[tool.name] = findings
    data = config.model_dump()
    data.update(tools=[tool.model_dump() for tool in tools], pins=pins, flags=dict(sorted(flags.items())))
    return McpConnectorConfig.model_validate(data)


__all__ = [
    "Drift",
    "McpConnector",
    "McpConnectorConfig",
    "OfferingPins",
    "PinnedTool",
    "ToolQuarantined",
    "approve",
    "canonical_json",
    "compute_drift",
    "exposed_name",
    "pin_of",
    "prepare_mcp",
    "scan_definition",
    "scan_text",
]
