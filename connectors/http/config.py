"""The HTTP connector's configuration: each tool declared as a method, a path template and
an argument mapping, validated when the connector is registered (see connectors/http/connector.py for
where each argument goes at call time)."""

from __future__ import annotations

import re
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from connectors.auth import AuthConfig
from connectors.base import TOOL_NAME, ToolSpec
from connectors.fields import (
    MIB,
    AllowPrivateNetwork,
    BaseUrl,
    ConnectorName,
    Headers,
    MaxResponseBytes,
    TimeoutSeconds,
    check_object_schema,
)
from connectors.http.resources import HttpResourceConfig, check_declared
from connectors.http.template import template_arguments

Method = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
BodyEncoding = Literal["json", "form", "multipart"]
_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # an HTTP header or cookie name (RFC 9110 token)
PLACEHOLDER = re.compile(r"\{([^{}/]+)\}")
OBJECT_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def placeholders(path: str) -> list[str]:
    """Names of the `{param}` placeholders in a path template, in order."""
    return PLACEHOLDER.findall(path)


class ToolAnnotations(BaseModel):
    """MCP ToolAnnotations: hints for clients about the tool's behaviour, never enforced."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str | None = Field(None, description="Human-readable title of the tool.")
    readOnlyHint: bool | None = Field(
        None, description="The tool does not modify its environment (default: true for GET tools)."
    )
    destructiveHint: bool | None = Field(None, description="The tool may destroy or overwrite data.")
    idempotentHint: bool | None = Field(
        None, description="Repeating a call with the same arguments has no further effect."
    )
    openWorldHint: bool | None = Field(
        None, description="The tool talks to an open world of external entities."
    )


class HttpToolConfig(BaseModel):
    """One tool: an HTTP request built from the tool's arguments."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(
        pattern=TOOL_NAME.pattern, description="Tool name within the connector (letters, digits, '_', '-')."
    )
    description: str = Field(max_length=10_000, description="What the tool does, written for the agent.")
    method: Method = Field("GET", description="HTTP method.")
    input_schema: dict[str, Any] = Field(
        default_factory=lambda: {"type": "object", "properties": {}},
        description='JSON Schema (Draft 2020-12) of the arguments; its top level must be "type": "object".',
    )
    path: str = Field(
        description="Path appended to the connector's base_url; '{name}' placeholders are filled from "
        "required arguments, percent-encoded.",
    )
    query: list[str] = Field([], description="Arguments sent as query parameters.")
    header_arguments: list[str] = Field(
        [], description="Arguments sent as request headers; the argument's name is the header's name."
    )
    cookie_arguments: list[str] = Field(
        [], description="Arguments sent as cookies (one Cookie header); the argument's name is the cookie's."
    )
    body: list[str] | None = Field(
        None,
        description="Arguments sent as the members of a JSON object body. Unset: POST/PUT/PATCH tools "
        "send their otherwise unmapped arguments this way.",
    )
    body_argument: str | None = Field(
        None, description="Argument whose value is sent as the whole JSON body."
    )
    fixed_query: dict[str, str] = Field(
        {}, description="Query parameters sent as written with every call, e.g. the fields always asked for."
    )
    body_template: dict[str, Any] | None = Field(
        None,
        description='A fixed JSON object body; a string that is exactly "{{name}}" is replaced by the value '
        "of argument `name`, or removed with its enclosing array element when the argument is absent.",
    )
    body_encoding: BodyEncoding = Field(
        "json",
        description="How `body` arguments are sent: a JSON object, an application/x-www-form-urlencoded "
        "form (nested objects as `a[b]=v`, lists as repeated fields), or multipart/form-data (fields "
        'whose schema says "format": "binary" are sent as file parts).',
    )
    headers: Headers = {}
    output_schema: dict[str, Any] | None = Field(
        None, description='JSON Schema of the structured result; its top level must be "type": "object".'
    )
    annotations: ToolAnnotations | None = Field(None, description="MCP tool annotations.")

    @field_validator("method", mode="before")
    @classmethod
    def _upper_method(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("input_schema", "output_schema")
    @classmethod
    def _check_schema(cls, schema: dict[str, Any] | None) -> dict[str, Any] | None:
        return None if schema is None else check_object_schema(schema)

    @field_validator("path")
    @classmethod
    def _check_path(cls, path: str, info: ValidationInfo) -> str:
        if not path.startswith("/"):
            raise ValueError("must start with '/'")
        if "?" in path or "#" in path:
            raise ValueError("must not contain '?' or '#'; list query arguments in `query`")
        if "{" in PLACEHOLDER.sub("", path) or "}" in PLACEHOLDER.sub("", path):
            raise ValueError("has a '{' or '}' that is not part of a '{name}' placeholder")
        names = placeholders(path)
        if len(set(names)) != len(names):
            raise ValueError("uses a placeholder twice")
        schema = info.data.get("input_schema")
        if schema is None:  # input_schema is invalid and reported on its own
            return path
        properties, required = schema.get("properties", {}), schema.get("required", [])
        for name in names:
            if name not in properties or name not in required:
                raise ValueError(f"placeholder '{{{name}}}' must be a required property of input_schema")
        return path

    @field_validator("query", "header_arguments", "cookie_arguments", "body")
    @classmethod
    def _check_mapped(cls, names: list[str] | None, info: ValidationInfo) -> list[str] | None:
        if names is None:
            return None
        if info.field_name == "body" and info.data.get("method") == "GET":
            raise ValueError("GET tools cannot send a body")
        if len(set(names)) != len(names):
            raise ValueError("names an argument twice")
        if info.field_name in ("header_arguments", "cookie_arguments"):
            for name in names:
                if not _TOKEN.match(name):
                    raise ValueError(f"'{name}' is not a valid header or cookie name")
        _check_arguments(names, info, _mapped_before(info))
        return names

    @field_validator("body_argument")
    @classmethod
    def _check_body_argument(cls, name: str | None, info: ValidationInfo) -> str | None:
        if name is None:
            return None
        if info.data.get("method") == "GET":
            raise ValueError("GET tools cannot send a body")
        if info.data.get("body") is not None:
            raise ValueError("cannot be combined with `body`")
        _check_arguments([name], info, _mapped_before(info))
        return name

    @field_validator("fixed_query")
    @classmethod
    def _check_fixed_query(cls, fixed: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        properties = (info.data.get("input_schema") or {}).get("properties", {})
        for name in fixed:
            if name in properties:
                raise ValueError(f"'{name}' is also an argument; a fixed parameter cannot come from one")
        return fixed

    @field_validator("body_template")
    @classmethod
    def _check_body_template(
        cls, template: dict[str, Any] | None, info: ValidationInfo
    ) -> dict[str, Any] | None:
        if template is None:
            return None
        if info.data.get("method") == "GET":
            raise ValueError("GET tools cannot send a body")
        if info.data.get("body_argument") is not None:
            raise ValueError("cannot be combined with `body_argument`")
        names = template_arguments(template)
        path_and_query = _mapped_before(info) - set(info.data.get("body") or ())
        _check_arguments(names, info, path_and_query | set(info.data.get("body") or ()))
        added = info.data.get("body")
        if added is None:  # unmapped arguments join the body's top level
            properties = (info.data.get("input_schema") or {}).get("properties", {})
            added = set(properties) - path_and_query - set(names)
        clash = sorted(set(added) & set(template))
        if clash:
            raise ValueError(f"member '{clash[0]}' would also be set by the argument of that name")
        return template

    @field_validator("body_encoding")
    @classmethod
    def _check_body_encoding(cls, encoding: BodyEncoding, info: ValidationInfo) -> BodyEncoding:
        if encoding != "json" and (info.data.get("body_argument") or info.data.get("body_template")):
            raise ValueError(
                f"a {encoding} body is an object of fields: use `body`, not a whole-body argument"
            )
        return encoding


def _mapped_before(info: ValidationInfo) -> set[str]:
    """Arguments already sent elsewhere by the fields validated before this one."""
    taken = set(placeholders(info.data.get("path", "")))
    for field in ("query", "header_arguments", "cookie_arguments", "body"):
        if field == info.field_name:
            break
        taken |= set(info.data.get(field) or ())
    return taken


def _check_arguments(names: list[str], info: ValidationInfo, taken: set[str]) -> None:
    properties = (info.data.get("input_schema") or {}).get("properties", {})
    for name in names:
        if "input_schema" in info.data and name not in properties:
            raise ValueError(f"'{name}' is not a property of input_schema")
        if name in taken:
            raise ValueError(f"'{name}' is already mapped to the path, query, a header or a cookie")


class HttpConnectorConfig(BaseModel):
    """An HTTP upstream and the tools declared on it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["http"] = Field(description="Connector kind.")
    name: ConnectorName
    description: str = Field("", description="What this upstream is, for operators.")
    base_url: BaseUrl
    timeout_seconds: TimeoutSeconds = 10.0
    max_response_bytes: MaxResponseBytes = MIB
    headers: Headers = {}
    auth: AuthConfig | None = None
    allow_private_network: AllowPrivateNetwork = False
    tools: list[HttpToolConfig] = Field(
        min_length=1, description="The tools, at least one; names are unique."
    )
    resources: list[HttpResourceConfig] = Field(
        [],
        description="GET tools also offered as MCP resources or resource templates "
        "(see connectors.http.resources).",
    )

    @model_validator(mode="after")
    def _check_resources(self) -> Self:
        check_declared(self.resources, {tool.name: tool for tool in self.tools})
        return self

    @field_validator("tools")
    @classmethod
    def _unique_names(cls, tools: list[HttpToolConfig]) -> list[HttpToolConfig]:
        seen: set[str] = set()
        for tool in tools:
            if tool.name in seen:
                raise ValueError(f"tool name '{tool.name}' is used more than once")
            seen.add(tool.name)
        return tools


def tool_spec(tool: HttpToolConfig) -> ToolSpec:
    annotations = tool.annotations.model_dump(exclude_none=True) if tool.annotations else {}
    if tool.method == "GET":
        annotations.setdefault("readOnlyHint", True)
    return ToolSpec(
        name=tool.name,
        description=tool.description,
        input_schema=tool.input_schema,
        output_schema=tool.output_schema,
        annotations=annotations or None,
    )
