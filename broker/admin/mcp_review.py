"""/admin/connectors/{name}/diff and /approve: review what changed on an upstream MCP server.

A pinned tool whose upstream definition changed, or that the upstream no longer lists, is
quarantined (hidden from every agent, refused on call); a new upstream tool is not exposed.
`diff` lists the live tools against the pins: a unified diff of each changed definition
(invisible characters spelled out) and the scanner's findings on the live definitions.
`approve` re-pins what the operator reviewed and stores the connector again, which puts
the tools back in the catalog. Passing the live pins the review showed (`expect`) makes
the approval refuse an upstream that moved again in between.
"""

from __future__ import annotations

import asyncio
import difflib
import json
import unicodedata
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session
from starlette.requests import Request

from broker.admin.auth import gateway_of
from broker.admin.registration import (
    describe_finding,
    flag_warnings,
    refuse_conflicts,
    registration_context,
)
from broker.admin.runtime import admin_subrouter, read, write
from broker.errors import BrokerError, Conflict, InvalidInput, Problem
from broker.offerings import Claims, config_claims
from broker.services import connectors as connector_service
from broker.services.connectors import PutResult
from connectors.errors import ConnectorError
from connectors.mcp import (
    Drift,
    McpConnector,
    McpConnectorConfig,
    PinnedTool,
    approve,
    compute_drift,
    exposed_name,
    pin_of,
    scan_definition,
)
from connectors.mcp.offerings import HeldOffering, Listing
from connectors.mcp.offerings import review as review_offerings
from connectors.mcp.pins import pin_offerings

router = admin_subrouter("connectors")

_HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cn", "Co", "Cs", "Zl", "Zp", "Zs"})


class UpstreamUnavailable(BrokerError):
    status_code = 502
    code = "upstream_unavailable"


class ToolReview(BaseModel):
    """One upstream tool that differs from its pin."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="The upstream's name for the tool (what `approve` takes).")
    exposed_name: str = Field(description="The name agents see (and policies match).")
    status: Literal["changed", "new", "removed"]
    pinned: dict[str, Any] | None = Field(description="The definition as approved; null for a new tool.")
    live: dict[str, Any] | None = Field(description="The definition the upstream lists now; null if removed.")
    live_pin: str | None = Field(description="SHA-256 of the live definition; pass it back in `expect`.")
    diff: str = Field(description="Unified diff, pinned to live, of the definitions as indented JSON.")
    flags: list[str] = Field(description="Scanner findings on the live definition (hidden instructions).")


class OfferingReview(BaseModel):
    """A resource, template or prompt held back until approved."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["resource", "template", "prompt"]
    name: str = Field(description="The upstream's URI, URI template or prompt name.")
    status: Literal["changed", "new", "flagged"] = Field(
        description="changed: differs from its pin; new: not pinned (prompts and templates); flagged: a new "
        "resource whose description the scanner flags."
    )
    live: dict[str, Any] = Field(description="What the upstream lists now (name, title, description, ...).")
    live_pin: str
    flags: list[str] = Field(description="Scanner findings on the live description.")


class ConnectorReview(BaseModel):
    model_config = ConfigDict(extra="forbid")

    connector: str
    clean: bool = Field(description="True when the upstream matches every pin and lists nothing new.")
    expose_new_tools: bool = Field(description="Whether new upstream tools are exposed without approval.")
    changed: list[ToolReview] = Field(description="Quarantined: the definition changed upstream.")
    removed: list[ToolReview] = Field(description="Quarantined: the upstream no longer lists the tool.")
    new: list[ToolReview] = Field(description="Listed upstream, not pinned: not exposed until approved.")
    unchanged: list[str] = Field(description="Exposed names of the tools that match their pins.")
    offerings: list[OfferingReview] = Field(
        default_factory=list,
        description="Resources, templates and prompts held back for review; `approve` without `tools` "
        "approves them with the tools.",
    )


class ApproveRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tools: list[str] | None = Field(
        None,
        description="Tools to approve (upstream or exposed names); null: every changed, removed and "
        "new tool.",
    )
    expect: dict[str, str | None] | None = Field(
        None,
        description="Upstream name -> `live_pin` as the review showed it (null: reviewed as removed). "
        "When given, every approved tool must be in it and still match, or nothing is approved.",
    )


class Approval(BaseModel):
    model_config = ConfigDict(extra="forbid")

    connector: str
    result: PutResult = Field(description="`unchanged` when there was nothing to approve.")
    approved: list[str] = Field(description="Upstream names re-pinned (changed, new) or unpinned (removed).")
    tools: list[str] = Field(description="Exposed names of every pinned tool after the approval.")
    offerings: list[str] = Field(
        default_factory=list, description="Resources, templates and prompts approved, as 'kind name'."
    )
    warnings: list[str] = Field(description="Scanner findings on the pinned tools.")


@router.get(
    "/connectors/{name}/diff",
    summary="Compare an upstream MCP server's live tools with their pins",
    description="Lists the upstream's tools now and reports changed and removed tools (quarantined) and "
    "new ones (not exposed), with unified diffs and scanner findings. mcp connectors only.",
)
async def diff_connector(request: Request, name: str) -> ConnectorReview:
    config, _ = await _stored(request, name)
    live, offered = await _live_tools(request, config)
    # hashing, diffing and scanning every definition of a big upstream is seconds of Python
    return await asyncio.to_thread(_reviewed, name, config, live, offered)


def _reviewed(
    name: str, config: McpConnectorConfig, live: list[PinnedTool], offered: Listing
) -> ConnectorReview:
    drift = _drift(config, live)
    held = review_offerings(offered, config.offering_pins, config.expose_new_tools).held
    pinned = {tool.name: tool for tool in config.tools or ()}
    by_name = {tool.name: tool for tool in live}

    def review(tool: str, status: Literal["changed", "new", "removed"]) -> ToolReview:
        return _review(config, tool, status, pinned.get(tool), by_name.get(tool))

    return ConnectorReview(
        connector=name,
        clean=drift.clean and not held,
        expose_new_tools=config.expose_new_tools,
        changed=[review(tool, "changed") for tool in drift.changed],
        removed=[review(tool, "removed") for tool in drift.removed],
        new=[review(tool, "new") for tool in drift.new],
        unchanged=[exposed_name(config, t) for t in sorted(pinned) if t not in drift.quarantined],
        offerings=[
            OfferingReview(
                kind=item.kind,
                name=item.name,
                status=item.status,
                live=item.live,
                live_pin=item.live_pin,
                flags=[describe_finding(finding) for finding in item.findings],
            )
            for item in held
        ],
    )


@router.post(
    "/connectors/{name}/approve",
    summary="Approve reviewed upstream MCP tool changes",
    description="Re-pins the given tools (default: every changed, removed and new one) from the "
    "upstream's live definitions and stores the connector: approved tools are back in the catalog. "
    "mcp connectors only.",
)
async def approve_connector(request: Request, name: str, body: ApproveRequest | None = None) -> Approval:
    body = body or ApproveRequest()
    config, before = await _stored(request, name)
    live, offered = await _live_tools(request, config)
    # re-pinning scans every approved definition: seconds of Python for a big upstream
    approved = await asyncio.to_thread(_approved, name, config, live, offered, body)
    approved_config, targets, held, claims, stored = approved
    refuse_conflicts(gateway_of(request).state.snapshot, {name: claims})
    names = list(claims.tools)

    def put(session: Session) -> PutResult:
        if connector_service.get_connector(session, name).config != before:
            raise Conflict(f"connector '{name}' was changed during the review; look at its diff again")
        return connector_service.put_connector(session, name, "mcp", stored, replace=True)

    result = await write(request, put)
    return Approval(
        connector=name,
        result=result,
        approved=targets if result != "unchanged" else [],
        offerings=[f"{item.kind} {item.name}" for item in held]
        if body.tools is None and result != "unchanged"
        else [],
        tools=names,
        warnings=flag_warnings(approved_config),
    )


def _approved(
    name: str, config: McpConnectorConfig, live: list[PinnedTool], offered: Listing, body: ApproveRequest
) -> tuple[McpConnectorConfig, list[str], tuple[HeldOffering, ...], Claims, dict[str, Any]]:
    """The config with the approved tools re-pinned, the tools approved, the offerings held,
    what the config claims in the catalog, and the config as stored."""
    drift = _drift(config, live)
    wanted = None if body.tools is None else _upstream_names(config, live, body.tools)
    try:
        approved_config = approve(config, live, wanted)
        held = review_offerings(offered, config.offering_pins, config.expose_new_tools).held
        if body.tools is None and (held or config.offering_pins is None):  # offerings go with "all"
            pins = pin_offerings(offered.resources, offered.templates, offered.prompts)
            approved_config = approved_config.model_copy(update={"offering_pins": pins})
    except ConnectorError as exc:
        raise InvalidInput(exc.message, problems=[Problem(("tools",), exc.message)]) from None
    targets = sorted(set(drift.changed + drift.removed + drift.new) if wanted is None else set(wanted))
    if body.expect is not None:
        _check_expected(name, targets, live, body.expect)
    claims = config_claims(approved_config)
    return approved_config, targets, held, claims, approved_config.model_dump(mode="json")


async def _stored(request: Request, name: str) -> tuple[McpConnectorConfig, dict[str, Any]]:
    record = await read(request, lambda s: connector_service.get_connector(s, name))
    if record.kind != "mcp":
        raise Conflict(
            f"connector '{name}' is of kind '{record.kind}': diff and approve apply to upstream MCP "
            "servers (kind: mcp), whose tools are pinned"
        )
    return await asyncio.to_thread(McpConnectorConfig.model_validate, record.config), record.config


async def _live_tools(request: Request, config: McpConnectorConfig) -> tuple[list[PinnedTool], Listing]:
    """The upstream's tools now, and its resources, templates and prompts, through the catalog's
    connector when it runs this config, listed with the shared secrets the config references."""
    gateway = gateway_of(request)
    running = gateway.state.snapshot.connectors.get(config.name)
    context = await registration_context(gateway.vault, config)
    try:
        if isinstance(running, McpConnector) and running.config == config:
            return await running.live_tools(context), running.offered()
        async with McpConnector(config) as connector:
            return await connector.live_tools(context), connector.offered()
    except ConnectorError as exc:
        raise UpstreamUnavailable(f"could not list the tools of '{config.name}': {exc.message}") from None


def _drift(config: McpConnectorConfig, live: Sequence[PinnedTool]) -> Drift:
    return compute_drift(config.pins, {tool.name: pin_of(tool.definition()) for tool in live})


def _upstream_names(config: McpConnectorConfig, live: Sequence[PinnedTool], given: list[str]) -> list[str]:
    """Upstream names for names given either way (`echo` or the exposed `files.echo`)."""
    known = {*config.pins, *(tool.name for tool in live)}
    by_exposed = {exposed_name(config, tool): tool for tool in known}
    return [name if name in known else by_exposed.get(name, name) for name in given]


def _check_expected(
    name: str, targets: list[str], live: Sequence[PinnedTool], expect: dict[str, str | None]
) -> None:
    pins = {tool.name: pin_of(tool.definition()) for tool in live}
    moved = [tool for tool in targets if tool not in expect or expect[tool] != pins.get(tool)]
    if moved:
        raise Conflict(
            f"the upstream of '{name}' differs from the review for {', '.join(moved)}: "
            "look at its diff again before approving"
        )


def _review(
    config: McpConnectorConfig,
    tool: str,
    status: Literal["changed", "new", "removed"],
    pinned: PinnedTool | None,
    live: PinnedTool | None,
) -> ToolReview:
    exposed = exposed_name(config, tool)
    old = pinned.definition() if pinned is not None else None
    new = live.definition() if live is not None else None
    lines = difflib.unified_diff(
        _review_lines(old),
        _review_lines(new),
        fromfile=f"{exposed} (approved)",
        tofile=f"{exposed} (upstream now)",
        lineterm="",
    )
    findings = scan_definition(new) if new is not None else []
    return ToolReview(
        name=tool,
        exposed_name=exposed,
        status=status,
        pinned=old,
        live=new,
        live_pin=pin_of(new) if new is not None else None,
        diff="\n".join(lines),
        flags=[describe_finding(finding) for finding in findings],
    )


def _review_lines(definition: dict[str, Any] | None) -> list[str]:
    """A definition as indented JSON, invisible and control characters spelled out."""
    if definition is None:
        return []
    text = json.dumps(definition, indent=2, sort_keys=True, ensure_ascii=False)
    return "".join(_visible(ch) for ch in text).splitlines()


def _visible(ch: str) -> str:
    if ch in " \n" or unicodedata.category(ch) not in _HIDDEN_CATEGORIES:
        return ch
    return f"\\u{ord(ch):04x}" if ord(ch) <= 0xFFFF else f"\\U{ord(ch):08x}"
