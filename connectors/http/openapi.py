"""Import an OpenAPI 3.0/3.1 document as the tools of an HTTP connector.

One tool per operation (GET, POST, PUT, PATCH, DELETE). Its arguments are the path and
query parameters plus the JSON request body: an object body's properties become
arguments of their own, any other body (or one whose property names clash with a
parameter) becomes a single `body` argument. Header and cookie parameters are not
imported: send fixed ones with the connector's `headers`. Operation-level `servers` are
ignored. An operation that cannot be imported fails the whole import with its name, so
it can be left out with `exclude`. The document's `securitySchemes` are not read: say how
to authenticate with `auth` (see connectors/auth.py); `spec_url` is fetched without it.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Mapping
from typing import Any, Literal
from urllib.parse import urljoin, urlsplit

import httpx
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

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

SPEC_MAX_BYTES = 16 * MIB
SPEC_MAX_NODES = 5_000_000
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the C one when built with libyaml


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


def openapi_to_http(config: OpenAPIConnectorConfig) -> HttpConnectorConfig:
    """Convert a config with an inline `spec`; no network. Raises ConnectorConfigError."""
    if config.spec is None:
        raise ConnectorConfigError(
            f"openapi connector '{config.name}': spec_url must be fetched first "
            "(resolve_openapi or registry.prepare)"
        )
    return _convert(config, config.spec, spec_url=None)


async def resolve_openapi(
    config: OpenAPIConnectorConfig, *, transport: httpx.AsyncBaseTransport | None = None
) -> HttpConnectorConfig:
    """Fetch `spec_url` if needed (bounded in size and time) and convert. Raises ConnectorConfigError."""
    if config.spec is not None:
        return openapi_to_http(config)
    assert config.spec_url is not None
    document = await _fetch(config, config.spec_url, transport)
    return _convert(config, document, spec_url=config.spec_url)


async def _fetch(
    config: OpenAPIConnectorConfig, url: str, transport: httpx.AsyncBaseTransport | None
) -> dict[str, Any]:
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
            body, truncated = await read_bounded(response, SPEC_MAX_BYTES)
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
        raise ConnectorConfigError(f"{prefix}: the document is larger than {size_text(SPEC_MAX_BYTES)}")
    try:
        document = _parse(body)
    except ValueError as exc:
        raise ConnectorConfigError(f"{prefix}: {exc}") from None
    if not isinstance(document, dict):
        raise ConnectorConfigError(f"{prefix}: the document is not a JSON/YAML object")
    return document


def _parse(body: bytes) -> Any:
    """JSON, else YAML made JSON-safe (YAML has integer keys such as status codes, and dates)."""
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        pass
    try:
        document = yaml.load(body, Loader=_YAML_LOADER)  # noqa: S506 - a SafeLoader
        # Aliases share nodes; refuse documents that would expand enormously ("billion laughs").
        if _expanded_size(document, {}) > SPEC_MAX_NODES:
            raise ValueError(f"the document expands to more than {SPEC_MAX_NODES} values")
        return json.loads(json.dumps(document, default=str))
    except yaml.YAMLError:
        raise ValueError("the document is neither JSON nor YAML") from None
    except RecursionError:
        raise ValueError("the document is nested too deeply") from None


def _expanded_size(value: Any, memo: dict[int, int]) -> int:
    if id(value) in memo:
        return memo[id(value)]
    children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    size = memo[id(value)] = 1 + sum(_expanded_size(child, memo) for child in children)
    return size


def _convert(
    config: OpenAPIConnectorConfig, document: Mapping[str, Any], spec_url: str | None
) -> HttpConnectorConfig:
    prefix = f"openapi connector '{config.name}'"
    try:
        version = check_openapi_version(document)
        base_url = config.base_url or _server_url(document, spec_url)
        tools = tool_configs(
            document, openapi_30=version.startswith("3.0"), include=config.include, exclude=config.exclude
        )
    except (OpenAPIError, ValueError) as exc:
        raise ConnectorConfigError(f"{prefix}: {exc}") from None
    if not tools:
        raise ConnectorConfigError(f"{prefix}: no operations left to import (check include/exclude)")
    info = document.get("info")
    info = info if isinstance(info, Mapping) else {}
    title = " ".join(str(info.get(key, "")) for key in ("title", "version")).strip()
    try:
        return HttpConnectorConfig(
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
