"""HTTP connector: each tool is declared as a method, a path template and an argument mapping.

Where arguments go:
- `{name}` placeholders in `path` are filled from arguments of that name, percent-encoded
  as one path segment ('/' included), so a value cannot reach another route.
- `query` names go to the query string; lists repeat the parameter (`?tag=a&tag=b`).
- `body` names form a JSON object body; `body_argument` sends one argument's value as the
  whole JSON body instead.
- `body_template` is a fixed JSON object body with `"{{name}}"` placeholders for arguments
  (connectors/_template.py); `body` and unmapped arguments are added as its top-level members.
- `fixed_query` parameters are sent as written with every call; no argument may use their names.
- Any other argument goes to the JSON object body for POST/PUT/PATCH tools without
  `body_argument`, and to the query string otherwise (GET, DELETE).
- Absent arguments and query arguments whose value is null are not sent.

Redirects are not followed and proxy settings are not read from the environment: the
broker decides where requests go.

`auth` (connectors/auth.py) names the secrets the broker injects into each request; their
values are blanked out of every error message and result that echoes them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, Literal
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from connectors._httpio import (
    BorrowedTransport,
    error_message,
    excerpt,
    read_bounded,
    redact_bytes,
    redact_error,
    size_text,
    transport_problem,
)
from connectors._template import fill_template, template_arguments
from connectors.auth import NO_CREDENTIALS, AuthConfig, Credentials, HttpAuth
from connectors.base import NO_CONTEXT, TOOL_NAME, CallContext, ToolOutput, ToolSpec
from connectors.errors import (
    ConnectorError,
    UnknownTool,
    UpstreamBadResponse,
    UpstreamHTTPError,
    UpstreamTimeout,
    UpstreamUnreachable,
)
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
from connectors.netguard import BlockedDestination, outbound_transport

Method = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
PLACEHOLDER = re.compile(r"\{([^{}/]+)\}")
OBJECT_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_ERROR_BODY_LIMIT = 64 * 1024
_NOT_SECRET_HEADERS = frozenset({"accept", "accept-language", "content-type", "user-agent"})


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

    @field_validator("query", "body")
    @classmethod
    def _check_mapped(cls, names: list[str] | None, info: ValidationInfo) -> list[str] | None:
        if names is None:
            return None
        if info.field_name == "body" and info.data.get("method") == "GET":
            raise ValueError("GET tools cannot send a body")
        if len(set(names)) != len(names):
            raise ValueError("names an argument twice")
        taken = set(placeholders(info.data.get("path", "")))
        if info.field_name == "body":
            taken |= set(info.data.get("query", []))
        _check_arguments(names, info, taken)
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
        _check_arguments(
            [name], info, set(placeholders(info.data.get("path", ""))) | set(info.data.get("query", []))
        )
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
        path_and_query = {*placeholders(info.data.get("path", "")), *info.data.get("query", [])}
        _check_arguments(names, info, path_and_query | set(info.data.get("body") or ()))
        added = info.data.get("body")
        if added is None:  # unmapped arguments join the body's top level
            properties = (info.data.get("input_schema") or {}).get("properties", {})
            added = set(properties) - path_and_query - set(names)
        clash = sorted(set(added) & set(template))
        if clash:
            raise ValueError(f"member '{clash[0]}' would also be set by the argument of that name")
        return template


def _check_arguments(names: list[str], info: ValidationInfo, taken: set[str]) -> None:
    properties = (info.data.get("input_schema") or {}).get("properties", {})
    for name in names:
        if "input_schema" in info.data and name not in properties:
            raise ValueError(f"'{name}' is not a property of input_schema")
        if name in taken:
            raise ValueError(f"'{name}' is already mapped to the path or query")


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


class HttpConnector:
    """Calls the declared tools of one HTTP upstream through one pooled client.

    `transport` replaces the network (httpx.MockTransport in tests, a shared or checked
    transport in the broker); it stays owned by the caller and is not closed by `aclose`.
    """

    def __init__(
        self, config: HttpConnectorConfig, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.config = config
        self._tools = {tool.name: tool for tool in config.tools}
        self._specs = tuple(tool_spec(tool) for tool in config.tools)
        self._base_url = config.base_url.rstrip("/")
        self._secrets = _secret_values(config)
        self._auth = (
            HttpAuth(config.auth, config.name, timeout=config.timeout_seconds) if config.auth else None
        )
        self._client = httpx.AsyncClient(
            transport=BorrowedTransport(transport)
            if transport is not None
            else outbound_transport(config.allow_private_network),
            timeout=config.timeout_seconds,
            follow_redirects=False,
            trust_env=False,
            headers={"Accept": "application/json", **config.headers},
        )

    @property
    def name(self) -> str:
        return self.config.name

    def tools(self) -> Sequence[ToolSpec]:
        return self._specs

    def secret_refs(self) -> frozenset[str]:
        return self._auth.secret_refs() if self._auth is not None else frozenset()

    async def call(
        self, tool: str, arguments: Mapping[str, Any], context: CallContext = NO_CONTEXT
    ) -> ToolOutput:
        config = self._tools.get(tool)
        if config is None:
            raise UnknownTool(f"upstream '{self.name}' has no tool '{tool}'")
        credentials = NO_CREDENTIALS
        try:
            if self._auth is not None:
                credentials = await self._auth.credentials(context, self._client)
            response, body, truncated = await self._send(self._build_request(config, arguments, credentials))
            if response.status_code == 401 and self._auth is not None:
                renewed = await self._auth.renewed(credentials, context, self._client)
                if renewed is not None:  # a fresh OAuth token, tried exactly once
                    credentials = renewed
                    request = self._build_request(config, arguments, credentials)
                    response, body, truncated = await self._send(request)
            return self._output(response, body, truncated, credentials.scrub)
        except ConnectorError as exc:
            redact_error(exc, credentials.scrub)
            raise

    def _output(
        self, response: httpx.Response, body: bytes, truncated: bool, injected: tuple[str, ...]
    ) -> ToolOutput:
        """The upstream's answer as a ToolOutput, or the ConnectorError it amounts to."""
        secrets = (*injected, *self._secrets)
        if injected:  # an upstream that echoes the request must not hand the credential on
            body = redact_bytes(body, injected)
        status, reason = response.status_code, response.reason_phrase
        if status >= 400:
            message = excerpt(error_message(body), secrets)
            raise UpstreamHTTPError(
                f"upstream '{self.name}' answered {status} {reason}" + (f": {message}" if message else ""),
                status,
            )
        if status >= 300:
            raise UpstreamBadResponse(
                f"upstream '{self.name}' answered {status} {reason}, a redirect, which is not followed"
            )
        if truncated:
            raise UpstreamBadResponse(
                f"upstream '{self.name}' sent more than the {size_text(self.config.max_response_bytes)} "
                "response limit (max_response_bytes)"
            )
        if not body.strip():
            value: Any = None
        else:
            try:
                value = json.loads(body)
            except (ValueError, RecursionError):
                text = excerpt(body[:400].decode("utf-8", errors="replace"), secrets, limit=100)
                raise UpstreamBadResponse(
                    f"upstream '{self.name}' answered with "
                    f"{response.headers.get('content-type') or 'no content type'}, "
                    f"not JSON: {text}"
                ) from None
        return dataclasses.replace(ToolOutput.from_json(value), meta={"http_status": status})

    async def aclose(self) -> None:
        await self._client.aclose()

    async def __aenter__(self) -> HttpConnector:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def _build_request(
        self, tool: HttpToolConfig, arguments: Mapping[str, Any], credentials: Credentials = NO_CREDENTIALS
    ) -> httpx.Request:
        path = PLACEHOLDER.sub(lambda match: self._segment(match.group(1), arguments), tool.path)
        query_names, body_names = list(tool.query), list(tool.body or ())
        template = tool.body_template
        mapped = {*placeholders(tool.path), *query_names, *body_names, tool.body_argument}
        mapped.update(template_arguments(template) if template is not None else ())
        rest_to_body = tool.method in OBJECT_BODY_METHODS and tool.body_argument is None
        for name in arguments:
            if name not in mapped:
                (body_names if rest_to_body else query_names).append(name)
        params: list[tuple[str, str | int | float | bool | None]] = [*tool.fixed_query.items()]
        params += [
            (name, text)
            for name in query_names
            if arguments.get(name) is not None
            for text in (
                map(_text, arguments[name]) if isinstance(arguments[name], list) else [_text(arguments[name])]
            )
        ]
        if credentials.params:  # the credential wins over an argument of the same name
            params = [p for p in params if p[0] not in credentials.params]
            params += credentials.params.items()
        content: bytes | None = None
        if tool.body_argument is not None:
            if tool.body_argument in arguments:
                content = _json_bytes(arguments[tool.body_argument])
        elif template is not None:
            added = {name: arguments[name] for name in body_names if name in arguments}
            content = _json_bytes({**fill_template(template, arguments), **added})
        elif tool.body is not None or body_names:
            content = _json_bytes({name: arguments[name] for name in body_names if name in arguments})
        headers = httpx.Headers(tool.headers)
        headers.update(credentials.headers)  # case-insensitively replaces a static header of that name
        if content is not None:
            headers.setdefault("Content-Type", "application/json")
        return self._client.build_request(
            tool.method, self._base_url + path, params=params, content=content, headers=headers
        )

    def _segment(self, name: str, arguments: Mapping[str, Any]) -> str:
        value = arguments.get(name)
        if value is None:
            raise ConnectorError(f"upstream '{self.name}': argument '{name}' is required")
        text = _text(value)
        if text in ("", ".", ".."):
            raise ConnectorError(f"upstream '{self.name}': argument '{name}' cannot be {text!r}")
        return quote(text, safe="")

    async def _send(self, request: httpx.Request) -> tuple[httpx.Response, bytes, bool]:
        """Send, and read the (bounded) answer within the connector's total time budget.

        Returns the closed response, its body and whether the body was cut at the limit.
        """
        limit = self.config.max_response_bytes
        try:
            async with asyncio.timeout(self.config.timeout_seconds):
                response = await self._client.send(request, stream=True)
                try:
                    body, truncated = await read_bounded(
                        response, limit if response.is_success else min(limit, _ERROR_BODY_LIMIT)
                    )
                finally:
                    await response.aclose()
        except (TimeoutError, httpx.TimeoutException) as exc:
            raise UpstreamTimeout(
                f"upstream '{self.name}' did not answer within {self.config.timeout_seconds:g} s"
            ) from exc
        except httpx.DecodingError as exc:
            raise UpstreamBadResponse(f"upstream '{self.name}' sent an undecodable body ({exc})") from exc
        except httpx.TransportError as exc:
            raise UpstreamUnreachable(
                f"upstream '{self.name}' is unreachable: {transport_problem(exc, request.url)}"
            ) from exc
        except BlockedDestination as exc:
            raise BlockedDestination(f"upstream '{self.name}': {exc.message}") from None
        return response, body, truncated


def _text(value: Any) -> str:
    """Scalars as they read in a URL (true, 3, Paris); anything else as compact JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int | float) or value is None:
        return json.dumps(value)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _json_bytes(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def _secret_values(config: HttpConnectorConfig) -> tuple[str, ...]:
    """Header values that may be credentials, and their parts ('Bearer abc' -> 'abc'), to blank out."""
    headers = [config.headers, *(tool.headers for tool in config.tools)]
    values = {
        part
        for mapping in headers
        for name, value in mapping.items()
        if name.lower() not in _NOT_SECRET_HEADERS
        for part in (value, *value.split())
        if len(part) >= 8
    }
    return tuple(sorted(values, key=len, reverse=True))
