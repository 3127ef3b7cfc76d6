"""/admin/connectors: register upstreams and see the tools they offer."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from broker import catalog, jsonbody, offload
from broker.admin import preparing
from broker.admin.auth import gateway_of
from broker.admin.bodies import openapi_body, parse_body, raw_body
from broker.admin.preparing import Pending, Ready
from broker.admin.registration import (
    flag_warnings,
    keep_reviewed,
    refuse_conflicts,
    registration_context,
    registration_secrets,
)
from broker.admin.runtime import admin_subrouter, read, utc, write
from broker.admin.storing import ToStore, check_ready, dumped
from broker.catalog import CatalogTool
from broker.documents import relocate
from broker.errors import Conflict, InvalidInput, Problem
from broker.offerings import Claims, claims_of
from broker.secrets import service as secret_service
from broker.secrets.vault import Vault
from broker.services import connectors as connector_service
from broker.services.connectors import ConnectorHead, PutResult
from broker.settings import Settings
from broker.store.models import ConnectorRecord
from connectors.base import NO_CONTEXT, Connector
from connectors.errors import ConnectorError
from connectors.http.openapi import DEFAULT_LIMITS, OpenAPIConnectorConfig, OpenAPILimits, fetch_document
from connectors.registry import ConnectorConfig, ConnectorConfigAdapter, build, build_off_loop, prepare

router = admin_subrouter("connectors")

_PUBLIC_HEADERS = frozenset({"accept", "accept-language", "content-type", "user-agent"})
REDACTED = "<redacted>"


class ToolInfo(BaseModel):
    """A tool as agents see it on /mcp."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(
        description="Qualified name, `<connector>.<tool>` (an mcp connector with `prefix: false`: the "
        "upstream's name); policies match this name."
    )
    connector: str = Field(description="The connector offering the tool.")
    description: str
    input_schema: dict[str, Any] = Field(description="JSON Schema of the arguments.")
    output_schema: dict[str, Any] | None = Field(
        default=None, description="JSON Schema of structured results."
    )
    annotations: dict[str, Any] | None = Field(default=None, description="MCP tool annotations (hints).")


class ConnectorSummary(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    kind: str = Field(
        description="The stored kind; openapi connectors are stored as the http config they import to."
    )
    description: str
    tool_count: int = Field(description="Tools offered; 0 when the connector could not be loaded.")
    loaded: bool = Field(description="False when the stored config could not be turned into a connector.")
    created_at: datetime
    updated_at: datetime


class ConnectorDetail(ConnectorSummary):
    config: dict[str, Any] = Field(description="The stored (prepared) config; header values are redacted.")
    tools: list[ToolInfo]
    warnings: list[str] = Field(
        default_factory=list, description="Scanner findings on pinned upstream tools (hidden instructions)."
    )


class ConnectorChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    kind: str
    result: PutResult = Field(description="What registering did.")
    tools: list[str] = Field(description="Qualified names of the connector's tools.")
    warnings: list[str] = Field(
        default_factory=list,
        description="Findings to review before granting the tools (e.g. an upstream tool whose "
        "description carries instructions aimed at the model), and the operations an OpenAPI import "
        "left out, each with the reason.",
    )


def tool_info(tool: CatalogTool) -> ToolInfo:
    spec = tool.spec
    return ToolInfo(
        name=tool.name,
        connector=tool.connector,
        description=spec.description,
        input_schema=dict(spec.input_schema),
        output_schema=dict(spec.output_schema) if spec.output_schema else None,
        annotations=dict(spec.annotations) if spec.annotations else None,
    )


@dataclass(frozen=True, slots=True)
class Checked:
    """A connector config ready to store, its qualified tool names, and notes for the operator."""

    config: ConnectorConfig
    claims: Claims
    warnings: list[str]

    @property
    def tools(self) -> list[str]:
        return list(self.claims.tools)


def openapi_limits(settings: Settings) -> OpenAPILimits:
    return OpenAPILimits(
        max_bytes=settings.openapi_max_bytes,
        max_operations=settings.openapi_max_operations,
        bytes_setting="BROKER_OPENAPI_MAX_BYTES",
        operations_setting="BROKER_OPENAPI_MAX_OPERATIONS",
    )


def _check_secrets(
    config: ConnectorConfig, refs: frozenset[str], known: Collection[str], loc: tuple[str | int, ...]
) -> None:
    if set(refs) - set(known):  # dumping a config (an inline OpenAPI document) only to locate a problem
        secret_service.check_references(config.model_dump(mode="json"), refs, known, loc)


async def prepare_checked(
    config: ConnectorConfig,
    loc: tuple[str | int, ...] = (),
    *,
    secrets: Collection[str] | None = None,
    stored: dict[str, Any] | None = None,
    vault: Vault | None = None,
    limits: OpenAPILimits = DEFAULT_LIMITS,
) -> Checked:
    """Do the registration-time work (fetch spec_url, import OpenAPI, pin upstream MCP tools
    unless `stored` already pins them for the same settings, with the secrets they need from
    `vault`) and check the result builds, and (given the stored `secrets` names) that every
    secret it references exists; returns the config to store, its qualified tool names and
    the import's warnings. CPU-heavy steps run in worker threads."""
    if secrets is not None:
        _check_secrets(config, registration_secrets(config), secrets, loc)
    try:
        prepared: ConnectorConfig | None = keep_reviewed(config, stored)
        warnings: list[str] = []
        if prepared is None:
            context = NO_CONTEXT if vault is None else await registration_context(vault, config)
            result = await prepare(config, context=context, limits=limits)
            prepared, warnings = result.config, result.warnings
        connector = await asyncio.to_thread(build, prepared)
    except ConnectorError as exc:
        raise InvalidInput(exc.message, problems=[Problem(loc, exc.message)] if loc else []) from None
    try:
        if secrets is not None:
            _check_secrets(config, connector.secret_refs(), secrets, loc)
        return Checked(prepared, claims_of(connector), warnings)
    finally:
        await connector.aclose()


def redact(config: dict[str, Any]) -> dict[str, Any]:
    """The config with header values and a stdio server's environment values blanked out:
    operators put credentials there even though secrets belong in the secret store."""

    def headers(mapping: Any) -> Any:
        if not isinstance(mapping, dict):
            return mapping
        return {k: v if k.lower() in _PUBLIC_HEADERS else REDACTED for k, v in mapping.items()}

    out = {**config}
    if "headers" in config:
        out["headers"] = headers(config["headers"])
    if isinstance(config.get("env"), dict):
        out["env"] = dict.fromkeys(config["env"], REDACTED)
    if isinstance(config.get("tools"), list):
        out["tools"] = [
            {**tool, "headers": headers(tool["headers"])}
            if isinstance(tool, dict) and "headers" in tool
            else tool
            for tool in config["tools"]
        ]
    return out


async def _loaded_tools(request: Request, record: ConnectorRecord) -> list[CatalogTool] | None:
    """The connector's catalog entries from the live catalog, or by building the stored config
    when the catalog does not have it (yet); None when it cannot be built."""
    snapshot = gateway_of(request).state.snapshot
    if record.name in snapshot.connectors:
        return [t for t in snapshot.tools.values() if t.connector == record.name]
    return await _built_tools(record)


async def _built_tools(record: ConnectorRecord) -> list[CatalogTool] | None:
    try:
        connector: Connector = await build_off_loop(record.config)
    except Exception:  # reported as loaded=False; the gateway log has the reason
        return None
    try:
        return (await asyncio.to_thread(catalog.connector_tools, record.name, connector))[0]
    finally:
        await connector.aclose()


def _summary(head: ConnectorHead, tools: list[CatalogTool] | None) -> dict[str, Any]:
    return {
        "name": head.name,
        "kind": head.kind,
        "description": head.description,
        "tool_count": len(tools or []),
        "loaded": tools is not None,
        "created_at": utc(head.created_at).isoformat(),
        "updated_at": utc(head.updated_at).isoformat(),
    }


async def _json_off_loop(render: Callable[[], Any]) -> Response:
    """An answer built and encoded in a worker thread: a connector of a thousand tools is
    megabytes of config and schemas, which pydantic would encode holding the GIL."""
    body = await asyncio.to_thread(lambda: jsonbody.dumps_in_steps(render()))
    return Response(body, media_type="application/json")


def _tool_infos(tools: list[CatalogTool]) -> list[dict[str, Any]]:
    return [tool_info(tool).model_dump(mode="json") for tool in tools]


@router.get("/connectors", summary="List connectors")
async def list_connectors(request: Request) -> list[ConnectorSummary]:
    heads = await read(request, connector_service.list_connectors)
    snapshot = gateway_of(request).state.snapshot
    live: dict[str, list[CatalogTool]] = {name: [] for name in snapshot.connectors}
    for tool in snapshot.tools.values():
        live.setdefault(tool.connector, []).append(tool)
    summaries = []
    for head in heads:
        tools = live.get(head.name)
        if tools is None:  # not in the catalog (yet): its config is read and built to say why
            tools = await _built_tools(
                await read(request, functools.partial(connector_service.get_connector, name=head.name))
            )
        summaries.append(ConnectorSummary.model_validate(_summary(head, tools)))
    return summaries


@router.post(
    "/connectors",
    summary="Register a connector",
    description="Registers a connector config (JSON or YAML). An openapi connector's spec is fetched and "
    "imported now, and stored as the http config it imports to. 201 when created.",
    openapi_extra=openapi_body(
        ConnectorConfigAdapter.json_schema(), "A connector config; `kind` selects its shape."
    ),
)
async def register_connector(
    request: Request,
    response: Response,
    replace: bool = Query(False, description="Replace an existing connector of the same name."),
) -> ConnectorChange:
    body, is_yaml = await raw_body(request)
    gateway = gateway_of(request)
    limits = openapi_limits(gateway.settings)
    known = await read(request, secret_service.secret_names)
    outcome = await offload.by_size(len(body), preparing.read_connector, body, is_yaml, limits)
    if isinstance(outcome, Pending) and isinstance(outcome.config, OpenAPIConnectorConfig):
        outcome = await fetched(outcome.config, limits)
    if isinstance(outcome, Pending):
        checked = await _prepare_pending(request, outcome, known, limits)
    else:
        checked = await _check_ready(outcome, known, body, is_yaml)
    refuse_conflicts(gateway.state.snapshot, {checked.name: checked.claims})

    def put(session: Session) -> PutResult:
        return connector_service.put_connector(
            session, checked.name, checked.kind, checked.stored, replace=replace
        )

    result = await write(request, put)
    if result == "created":
        response.status_code = 201
    return ConnectorChange(
        name=checked.name, kind=checked.kind, result=result, tools=checked.tools, warnings=checked.warnings
    )


async def fetched(config: OpenAPIConnectorConfig, limits: OpenAPILimits) -> Ready:
    """Fetch `spec_url` here (network), import it in a worker process (CPU)."""
    assert config.spec_url is not None
    try:
        document = await fetch_document(config, limits=limits)
    except ConnectorError as exc:
        raise InvalidInput(exc.message) from None
    return await offload.by_size(
        len(document), preparing.convert_fetched, config, document, config.spec_url, limits
    )


async def _check_ready(ready: Ready, known: Collection[str], body: bytes, is_yaml: bool) -> ToStore:
    """`storing.check_ready`, its problems located in `body` by line."""
    try:
        return await check_ready(ready, known)
    except InvalidInput as exc:
        if not exc.problems:
            raise
        located = await asyncio.to_thread(parse_body, body, is_yaml)
        raise InvalidInput(exc.message, problems=relocate(exc.problems, located)) from None


async def _prepare_pending(
    request: Request, pending: Pending, known: Collection[str], limits: OpenAPILimits
) -> ToStore:
    """A config that needs the network (an mcp upstream to pin): small, prepared here."""
    config = pending.config
    gateway = gateway_of(request)
    before = await read(request, lambda s: connector_service.stored_configs(s, [config.name]))
    try:
        checked = await prepare_checked(
            config, secrets=known, stored=before.get(config.name), vault=gateway.vault, limits=limits
        )
    except InvalidInput as exc:
        raise InvalidInput(exc.message, problems=relocate(exc.problems, pending.located)) from None
    return await dumped(checked.config, checked.claims, checked.warnings)


@router.get(
    "/connectors/{name}",
    summary="Show a connector: its stored config and tools",
    response_model=ConnectorDetail,
)
async def show_connector(request: Request, name: str) -> Response:
    record = await read(request, lambda s: connector_service.get_connector(s, name))
    tools = await _loaded_tools(request, record)
    return await _json_off_loop(
        lambda: {
            **_summary(ConnectorHead.of(record), tools),
            "config": redact(record.config),
            "tools": _tool_infos(tools or []),
            "warnings": flag_warnings(record.config),
        }
    )


@router.get("/connectors/{name}/tools", summary="List a connector's tools", response_model=list[ToolInfo])
async def connector_tools(request: Request, name: str) -> Response:
    record = await read(request, lambda s: connector_service.get_connector(s, name))
    tools = await _loaded_tools(request, record)
    if tools is None:
        raise Conflict(
            f"connector '{name}' is registered but cannot be loaded; register it again with replace"
        )
    return await _json_off_loop(lambda: _tool_infos(tools))


@router.delete("/connectors/{name}", status_code=204, summary="Remove a connector")
async def delete_connector(request: Request, name: str) -> Response:
    await write(request, lambda s: connector_service.delete_connector(s, name))
    return Response(status_code=204)
