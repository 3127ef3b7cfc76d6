"""Field types shared by connector configs.

They carry their own validation and descriptions, so every connector kind spells names,
URLs, bounds and headers the same way in YAML, in the admin API schema and in errors.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

import httpx
import jsonschema_rs
from jsonschema import Draft202012Validator
from pydantic import AfterValidator, Field

from connectors.base import CONNECTOR_NAME

MIB = 1024 * 1024

_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")


def check_http_url(value: str, *, allow_query: bool = True) -> str:
    """Accept absolute http(s) URLs without embedded credentials."""
    try:
        url = httpx.URL(value)
    except httpx.InvalidURL as exc:
        raise ValueError(f"is not a valid URL: {exc}") from exc
    if url.scheme not in ("http", "https"):
        raise ValueError("must be an http:// or https:// URL")
    if not url.host:
        raise ValueError("must name a host")
    if url.userinfo:
        raise ValueError("must not contain a user name or password; send credentials as headers")
    if not allow_query and (url.query or url.fragment):
        raise ValueError("must not contain a query string or fragment")
    return value


def _check_base_url(value: str) -> str:
    return check_http_url(value, allow_query=False)


def _check_headers(headers: dict[str, str]) -> dict[str, str]:
    for name, value in headers.items():
        if not _HEADER_NAME.match(name):
            raise ValueError(f"{name!r} is not a valid header name")
        if any(ch in value for ch in "\r\n\0"):
            raise ValueError(f"the value of header {name!r} contains a line break or NUL")
    return headers


_META_SCHEMA = jsonschema_rs.Draft202012Validator(Draft202012Validator.META_SCHEMA, offline=True)


def check_object_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """Accept a valid Draft 2020-12 JSON Schema whose top level is `"type": "object"` (as MCP requires).

    The schema is checked as an instance of the 2020-12 meta-schema by jsonschema-rs (Rust,
    offline: nothing named by `$schema`, `$id` or `$ref` is fetched), a thousand times faster
    than the pure-Python check, which took minutes for an imported API of a thousand tools.
    """
    error = next(iter(_META_SCHEMA.iter_errors(schema)), None)
    if error is not None:
        where = "/".join(str(part) for part in error.instance_path)
        at = f" at '{where}'" if where else ""
        raise ValueError(f"is not a valid JSON Schema (Draft 2020-12){at}: {error.message}")
    if schema.get("type") != "object":
        raise ValueError('must have "type": "object" at the top level')
    return schema


ConnectorName = Annotated[
    str,
    Field(
        pattern=CONNECTOR_NAME.pattern,
        description="Connector name: lower case letters, digits, '_' and '-', starting with a letter. "
        "It prefixes every tool name as '<connector>.<tool>'.",
    ),
]

BaseUrl = Annotated[
    str,
    AfterValidator(_check_base_url),
    Field(
        description="Absolute http(s) URL that tool paths are appended to, e.g. https://api.example.com/v1. "
        "No credentials, query string or fragment.",
    ),
]

HttpUrl = Annotated[
    str,
    AfterValidator(check_http_url),
    Field(description="Absolute http(s) URL without credentials."),
]

TimeoutSeconds = Annotated[
    float,
    Field(gt=0, le=300, description="Seconds the upstream has to answer completely (0 < t <= 300)."),
]

MaxResponseBytes = Annotated[
    int,
    Field(
        ge=1,
        le=64 * MIB,
        description="Largest upstream answer accepted, in bytes after decompression (at most 64 MiB).",
    ),
]

Headers = Annotated[
    dict[str, str],
    AfterValidator(_check_headers),
    Field(description="Static HTTP headers sent with every request."),
]

AllowPrivateNetwork = Annotated[
    bool,
    Field(
        description="Allow this connector to reach loopback, private, link-local and metadata addresses. "
        "Off by default: a connector URL that resolves there is refused (SSRF protection).",
    ),
]
