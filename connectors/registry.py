"""Connector configs of every kind, and the two steps from a config to a running connector.

1. `prepare` runs once, when an operator registers a connector: it does whatever needs the
   network and returns a self-contained config. An `openapi` config comes back as the
   `http` config it imports to (tools, schemas and base URL spelled out), so what the
   broker stores is exactly what was reviewed: tool names stay stable across restarts and
   upgrades, and nothing is fetched again. To pick up a changed document, register again.
2. `build` runs at every startup on the stored config (`ConnectorConfigAdapter` reads it
   back from JSON) and needs no network. It also accepts an `openapi` config with an
   inline `spec` (convenient in YAML files), converting it on the spot.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Annotated, TypeAlias, assert_never

import httpx
from pydantic import Field, TypeAdapter

from connectors.base import NO_CONTEXT, CallContext, Connector
from connectors.errors import ConnectorConfigError
from connectors.http.config import HttpToolConfig
from connectors.http.connector import HttpConnector, HttpConnectorConfig
from connectors.http.openapi import (
    DEFAULT_LIMITS,
    OpenAPIConnectorConfig,
    OpenAPILimits,
    openapi_to_http,
    resolve_openapi,
)
from connectors.mcp import McpConnector, McpConnectorConfig, prepare_mcp
from connectors.netguard import refuse_private_destination
from connectors.sql.config import SqlConnectorConfig
from connectors.sql.connector import SqlConnector

ConnectorConfig: TypeAlias = Annotated[
    HttpConnectorConfig | OpenAPIConnectorConfig | McpConnectorConfig | SqlConnectorConfig,
    Field(discriminator="kind"),
]
"""Any connector's config, told apart by its `kind`."""

ConnectorConfigAdapter: TypeAdapter[ConnectorConfig] = TypeAdapter(ConnectorConfig)
"""Validates and dumps configs (Python or JSON); its `json_schema()` is the admin API schema."""


@dataclass(frozen=True, slots=True)
class Prepared:
    """A config ready to store, and what the operator should know about it (e.g. the
    operations an OpenAPI import left out, one line each)."""

    config: ConnectorConfig
    warnings: list[str] = field(default_factory=list)


async def prepare(
    config: ConnectorConfig,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    context: CallContext = NO_CONTEXT,
    limits: OpenAPILimits = DEFAULT_LIMITS,
) -> Prepared:
    """Resolve at registration what needs the network; the result builds without it.

    `context` carries the secrets the config references, for upstreams that must be reached
    with them now (an mcp server is connected to list its tools). CPU-heavy steps (an
    OpenAPI document's conversion) run in a worker thread.
    Raises ConnectorConfigError with a message for the operator.
    """
    warnings: list[str] = []
    if isinstance(config, OpenAPIConnectorConfig):
        imported = await resolve_openapi(config, transport=transport, limits=limits)
        config, warnings = imported.config, imported.warnings
    if isinstance(config, McpConnectorConfig):
        return Prepared(await prepare_mcp(config, context))
    if isinstance(config, HttpConnectorConfig) and transport is None:
        await refuse_private_destination(config.name, config.base_url, config.allow_private_network)
    return Prepared(config, warnings)


def build(config: ConnectorConfig, transport: httpx.AsyncBaseTransport | None = None) -> Connector:
    """The connector for a prepared config, without touching the network.

    `transport` (owned by the caller) replaces the network for HTTP-based connectors.
    Raises ConnectorConfigError when the config still needs `prepare`.
    """
    if isinstance(config, HttpConnectorConfig):
        return HttpConnector(config, transport=transport)
    if isinstance(config, OpenAPIConnectorConfig):
        return HttpConnector(openapi_to_http(config), transport=transport)
    if isinstance(config, McpConnectorConfig):
        return McpConnector(config)
    if isinstance(config, SqlConnectorConfig):
        return SqlConnector(config)
    assert_never(config)


_HTTP_TOOL: TypeAdapter[HttpToolConfig] = TypeAdapter(HttpToolConfig)


def validate_stored(stored: object) -> ConnectorConfig:
    """A stored config (JSON-like) validated. An http config's tools are validated one at a
    time: pydantic holds the GIL for a whole call, and one call for a thousand tools would
    keep the event loop waiting for it."""
    if isinstance(stored, dict) and stored.get("kind") == "http" and isinstance(stored.get("tools"), list):
        stored = {**stored, "tools": [_HTTP_TOOL.validate_python(tool) for tool in stored["tools"]]}
    return ConnectorConfigAdapter.validate_python(stored)


async def build_off_loop(stored: object, transport: httpx.AsyncBaseTransport | None = None) -> Connector:
    """Validate a stored config (JSON-like) and build its connector in a worker thread: a big
    config (an imported OpenAPI document of a thousand tools) is seconds of pure Python."""
    return await asyncio.to_thread(lambda: build(validate_stored(stored), transport))


__all__ = [
    "ConnectorConfig",
    "ConnectorConfigAdapter",
    "ConnectorConfigError",
    "Prepared",
    "build",
    "build_off_loop",
    "prepare",
]
