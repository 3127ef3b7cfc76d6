"""Import an OpenAPI 3.0/3.1 document as the tools of an HTTP connector.

One tool per operation (GET, POST, PUT, PATCH, DELETE). Its arguments are the path, query,
header and cookie parameters plus the request body (JSON, form-urlencoded or multipart): an
object body's properties become arguments of their own, any other JSON body (or one whose
property names clash with a parameter) becomes a single `body` argument. Operation-level
`servers` are ignored. An operation that cannot be imported is left out with a warning that
names it and says why; the import fails only when nothing is left. The document's
`securitySchemes` are not read: say how to authenticate with `auth` (see connectors/auth.py);
`spec_url` is fetched without it.

A document is bounded (`OpenAPILimits`: bytes and operations). The conversion is CPU-bound:
the admin API runs it in a worker process (broker/admin/preparing.py), `resolve_openapi` in a
worker thread.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urljoin, urlsplit

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from connectors import yaml12
from connectors.auth import AuthConfig
from connectors.errors import ConnectorConfigError
from connectors.fields import (
    MIB,
    AllowPrivateNetwork,
    BaseUrl,
    ConnectorName,
    Headers,
    HttpUrl,
    MaxResponseBytes,
    TimeoutSeconds,
)
from connectors.http.connector import HttpConnectorConfig
from connectors.http.io import BorrowedTransport, read_bounded, size_text, transport_problem
from connectors.http.openapi_schema import OpenAPIError
from connectors.http.openapi_tools import first_error, tool_configs
from connectors.netguard import BlockedDestination, outbound_transport

SPEC_MAX_NODES = 5_000_000


@dataclass(frozen=True, slots=True)
class OpenAPILimits:
    """What one document may cost; the setting names go into the errors that cite them."""

    max_bytes: int = 24 * MIB
    max_operations: int = 2_000
    bytes_setting: str = "max_bytes"
    operations_setting: str = "max_operations"


DEFAULT_LIMITS = OpenAPILimits()


@dataclass(frozen=True, slots=True)
class OpenAPIImport:
    """The http config a document imports to, and what was left out of it (one line each)."""

    config: HttpConnectorConfig
    warnings: list[str] = field(default_factory=list)


def check_openapi_version(document: Mapping[str, Any]) -> str:
    """The document's OpenAPI version if it is 3.0.x or 3.1.x; ValueError otherwise."""
    if "swagger" in document:
        raise ValueError(
            f"Swagger {document['swagger']} documents are not supported; convert the document to "
            "OpenAPI 3 first (for example with swagger2openapi)"
        )
    version = document.get("openapi")
    if not isinstance(version, str) or not re.match(r"^3\.[01](\.|$)", version):
        raise ValueError(f"'openapi' must be a 3.0.x or 3.1.x version, not {version!r}")
    if not isinstance(document.get("paths"), Mapping):
        raise ValueError("the document has no 'paths' object")
    return version


class OpenAPIConnectorConfig(BaseModel):
    """An HTTP upstream whose tools come from its OpenAPI document."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["openapi"] = Field(description="Connector kind.")
    name: ConnectorName
    description: str = Field("", description="What this upstream is; default: the document's title.")
    base_url: BaseUrl | None = Field(
        None,
        description="Default: the document's first server URL, resolved against spec_url when relative.",
    )
    spec: dict[str, Any] | None = Field(
        None, description="The OpenAPI 3.0/3.1 document inline (give this or spec_url)."
    )
    spec_url: HttpUrl | None = Field(
        None,
        description="Where to fetch the OpenAPI document (JSON or YAML) at registration (give this or spec).",
    )
    include: list[str] = Field(
        [], description="Glob patterns of operationIds (or generated tool names) to import; empty: all."
    )
    exclude: list[str] = Field(
        [], description="Glob patterns of operationIds (or generated tool names) to skip."
    )
    timeout_seconds: TimeoutSeconds = 10.0
    max_response_bytes: MaxResponseBytes = MIB
    headers: Headers = {}
    auth: AuthConfig | None = None
    allow_private_network: AllowPrivateNetwork = False

    @field_validator("spec")
    @classmethod
    def _check_spec(cls, spec: dict[str, Any] | None) -> dict[str, Any] | None:
        if spec is not None:
            check_openapi_version(spec)
        return spec

    @model_validator(mode="after")
    def _one_source(self) -> OpenAPIConnectorConfig:
        if (self.spec is None) == (self.spec_url is None):
            raise ValueError("give exactly one of `spec` (inline document) and `spec_url`")
        return self


def openapi_to_http(
    config: OpenAPIConnectorConfig, limits: OpenAPILimits = DEFAULT_LIMITS
) -> HttpConnectorConfig:
    """Convert a config with an inline `spec`; no network. Raises ConnectorConfigError."""
    return import_inline(config, limits).config


def import_inline(config: OpenAPIConnectorConfig, limits: OpenAPILimits = DEFAULT_LIMITS) -> OpenAPIImport:
    """Convert a config with an inline `spec`, with the warnings; no network, CPU-bound."""
    if config.spec is None:
        raise ConnectorConfigError(
            f"openapi connector '{config.name}': spec_url must be fetched first "
            "(resolve_openapi or registry.prepare)"
        )
    size = _json_size(config.spec, limits.max_bytes)
    if size > limits.max_bytes:
        raise ConnectorConfigError(_too_big(config.name, size, limits, at_least=True))
    return _convert(config, config.spec, None, limits)


def _json_size(value: Any, limit: int) -> int:
    """About the size of `value` as compact JSON, counted in Python (so the GIL changes hands
    while a big document is measured) and stopping once past `limit`."""
    size, pending = 0, [value]
    while pending and size <= limit:
        item = pending.pop()
        if isinstance(item, dict):
            size += 2 + 4 * len(item) + sum(len(str(key)) for key in item)
            pending.extend(item.values())
        elif isinstance(item, list):
            size += 2 + len(item)
            pending.extend(item)
        else:
            size += len(item) + 2 if isinstance(item, str) else len(str(item))
    return size


async def resolve_openapi(
    config: OpenAPIConnectorConfig,
    *,
    limits: OpenAPILimits = DEFAULT_LIMITS,
    transport: httpx.AsyncBaseTransport | None = None,
) -> OpenAPIImport:
    """Fetch `spec_url` if needed (bounded in size and time) and convert in a worker thread.
    Raises ConnectorConfigError."""
    if config.spec is not None:
        return await asyncio.to_thread(import_inline, config, limits)
    assert config.spec_url is not None
    body = await fetch_document(config, transport=transport, limits=limits)
    return await asyncio.to_thread(convert_document, config, body, config.spec_url, limits)


def _too_big(name: str, size: int, limits: OpenAPILimits, *, at_least: bool = False) -> str:
    return (
        f"openapi connector '{name}': the document is {'over ' if at_least else ''}{size_text(size)}, "
        "larger than the "
        f"{size_text(limits.max_bytes)} allowed ({limits.bytes_setting}); raise {limits.bytes_setting} "
        "or import a smaller document"
    )


def convert_document(
    config: OpenAPIConnectorConfig, body: bytes, spec_url: str, limits: OpenAPILimits
) -> OpenAPIImport:
    """Parse a fetched document (the bytes of `spec_url`) and convert it; CPU-bound."""
    try:
        document = parse_document(body)
    except ValueError as exc:
        raise ConnectorConfigError(
            f"openapi connector '{config.name}': cannot read {spec_url}: {exc}"
        ) from None
    return _convert(config, document, spec_url, limits)


async def fetch_document(
    config: OpenAPIConnectorConfig,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    limits: OpenAPILimits = DEFAULT_LIMITS,
) -> bytes:
    """The bytes of `spec_url`, bounded in size and time. Raises ConnectorConfigError."""
    assert config.spec_url is not None
    url = config.spec_url
    prefix = f"openapi connector '{config.name}': cannot fetch {url}"
    try:
        async with (
            httpx.AsyncClient(
                transport=BorrowedTransport(transport)
                if transport is not None
                else outbound_transport(config.allow_private_network),
                timeout=config.timeout_seconds,
                follow_redirects=False,
                trust_env=False,
                headers={"Accept": "application/json, application/yaml;q=0.9, */*;q=0.5"},
            ) as client,
            asyncio.timeout(config.timeout_seconds),
            client.stream("GET", url) as response,
        ):
            body, truncated = await read_bounded(response, limits.max_bytes)
    except (TimeoutError, httpx.TimeoutException):
        raise ConnectorConfigError(f"{prefix}: no answer within {config.timeout_seconds:g} s") from None
    except httpx.TransportError as exc:
        raise ConnectorConfigError(f"{prefix}: {transport_problem(exc, httpx.URL(url))}") from None
    except httpx.HTTPError as exc:
        raise ConnectorConfigError(f"{prefix}: {exc}") from None
    except BlockedDestination as exc:
        raise ConnectorConfigError(f"{prefix}: {exc.message}") from None
    if response.is_redirect:
        location = response.headers.get("location", "")
        raise ConnectorConfigError(f"{prefix}: redirected to {location}; set spec_url to the final address")
    if response.status_code != 200:
        raise ConnectorConfigError(f"{prefix}: answered {response.status_code} {response.reason_phrase}")
    if truncated:
        raise ConnectorConfigError(_too_big(config.name, limits.max_bytes, limits, at_least=True))
    return body


def parse_document(body: bytes | str) -> dict[str, Any]:
    """JSON, else YAML 1.2 made JSON-safe (YAML has integer keys such as status codes, and dates).
    ValueError saying what is wrong."""
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        try:
            document = yaml12.load(body)
            # Aliases share nodes; refuse documents that would expand enormously ("billion laughs").
            if _expanded_size(document, {}) > SPEC_MAX_NODES:
                raise ValueError(f"the document expands to more than {SPEC_MAX_NODES} values")
            document = json.loads(json.dumps(document, default=str))
        except yaml12.YAMLError:
            raise ValueError("the document is neither JSON nor YAML") from None
        except RecursionError:
            raise ValueError("the document is nested too deeply") from None
    if not isinstance(document, dict):
        raise ValueError("the document is not a JSON/YAML object")
    return document


def _expanded_size(value: Any, memo: dict[int, int]) -> int:
    if id(value) in memo:
        return memo[id(value)]
    children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    size = memo[id(value)] = 1 + sum(_expanded_size(child, memo) for child in children)
    return size


def _convert(
    config: OpenAPIConnectorConfig, document: Mapping[str, Any], spec_url: str | None, limits: OpenAPILimits
) -> OpenAPIImport:
    prefix = f"openapi connector '{config.name}'"
    try:
        version = check_openapi_version(document)
        base_url = config.base_url or _server_url(document, spec_url)
        tools, warnings = tool_configs(
            document,
            openapi_30=version.startswith("3.0"),
            include=config.include,
            exclude=config.exclude,
            max_operations=limits.max_operations,
            operations_setting=limits.operations_setting,
        )
    except (OpenAPIError, ValueError) as exc:
        raise ConnectorConfigError(f"{prefix}: {exc}") from None
    except RecursionError:
        raise ConnectorConfigError(f"{prefix}: the document nests schemas too deeply") from None
    if not tools:
        why = f": {'; '.join(warnings[:3])}" if warnings else " (check include/exclude)"
        raise ConnectorConfigError(f"{prefix}: no operations left to import{why}")
    info = document.get("info")
    info = info if isinstance(info, Mapping) else {}
    title = " ".join(str(info.get(key, "")) for key in ("title", "version")).strip()
    try:
        http = HttpConnectorConfig(
            kind="http",
            name=config.name,
            description=config.description or title,
            base_url=base_url,
            timeout_seconds=config.timeout_seconds,
            max_response_bytes=config.max_response_bytes,
            headers=config.headers,
            auth=config.auth,
            allow_private_network=config.allow_private_network,
            tools=tools,
        )
    except ValidationError as exc:
        raise ConnectorConfigError(f"{prefix}: {first_error(exc)}") from None
    return OpenAPIImport(http, warnings)


def _server_url(document: Mapping[str, Any], spec_url: str | None) -> str:
    """The first server's URL with variables at their defaults; OpenAPI's default server is '/'."""
    servers = document.get("servers")
    server = servers[0] if isinstance(servers, list) and servers and isinstance(servers[0], Mapping) else {}
    url = str(server.get("url", "/"))
    variables = server.get("variables")
    for name, variable in (variables if isinstance(variables, Mapping) else {}).items():
        if isinstance(variable, Mapping):
            url = url.replace("{" + str(name) + "}", str(variable.get("default", "")))
    if urlsplit(url).scheme:
        return url
    if spec_url is None:
        raise OpenAPIError(
            f"the document's server URL {url!r} is relative and there is no spec_url; set base_url"
        )
    return urljoin(spec_url, url)
