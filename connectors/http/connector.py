"""HTTP connector: each tool is declared as a method, a path template and an argument mapping.

Where arguments go:
- `{name}` placeholders in `path` are filled from arguments of that name, percent-encoded
  as one path segment ('/' included), so a value cannot reach another route.
- `query` names go to the query string; lists repeat the parameter (`?tag=a&tag=b`).
- `body` names form a JSON object body (or a form, `body_encoding: form | multipart`, see
  connectors/http/forms.py); `body_argument` sends one argument's value as the whole JSON body.
- `header_arguments` and `cookie_arguments` are sent as headers and cookies of their own name.
- `body_template` is a fixed JSON object body with `"{{name}}"` placeholders for arguments
  (connectors/http/template.py); `body` and unmapped arguments are added as its top-level members.
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
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote, urlencode

import httpx

from connectors.auth import NO_CREDENTIALS, Credentials, HttpAuth
from connectors.base import (
    NO_CONTEXT,
    CallContext,
    ResourceOutput,
    ResourceSpec,
    ResourceTemplateSpec,
    ToolOutput,
    ToolSpec,
)
from connectors.errors import (
    ConnectorError,
    UnknownTool,
    UpstreamBadResponse,
    UpstreamHTTPError,
    UpstreamTimeout,
    UpstreamUnreachable,
)
from connectors.http import resources
from connectors.http.config import (
    OBJECT_BODY_METHODS,
    PLACEHOLDER,
    HttpConnectorConfig,
    HttpToolConfig,
    Method,
    ToolAnnotations,
    placeholders,
    tool_spec,
)
from connectors.http.forms import form_pairs, multipart_parts
from connectors.http.io import (
    BorrowedTransport,
    error_message,
    excerpt,
    read_bounded,
    size_text,
    transport_problem,
)
from connectors.http.template import fill_template, template_arguments
from connectors.netguard import BlockedDestination, outbound_transport
from connectors.scrub import Scrubber, scrubber

__all__ = [
    "HttpConnector",
    "HttpConnectorConfig",
    "HttpToolConfig",
    "Method",
    "ToolAnnotations",
    "placeholders",
    "tool_spec",
]

_ERROR_BODY_LIMIT = 64 * 1024
_CONTENT_TYPES = {"json": "application/json", "form": "application/x-www-form-urlencoded"}
_NOT_SECRET_HEADERS = frozenset({"accept", "accept-language", "content-type", "user-agent"})


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
        self._resources = resources.resource_specs(config.resources)
        self._templates = resources.template_specs(config.resources)
        self._base_url = config.base_url.rstrip("/")
        self._secrets = scrubber(*_secret_values(config))
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

    def resources(self) -> Sequence[ResourceSpec]:
        return self._resources

    def resource_templates(self) -> Sequence[ResourceTemplateSpec]:
        return self._templates

    async def read_resource(self, uri: str, context: CallContext = NO_CONTEXT) -> ResourceOutput:
        """A declared resource, read through its GET tool (connectors/http/resources.py)."""
        resource, values = resources.find(self.config.resources, uri, self.name)
        return resources.as_contents(uri, resource, await self.call(resource.tool, values, context))

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
            credentials.scrub.error(exc)
            raise

    def _output(
        self, response: httpx.Response, body: bytes, truncated: bool, injected: Scrubber
    ) -> ToolOutput:
        """The upstream's answer as a ToolOutput, or the ConnectorError it amounts to."""
        secrets = injected | self._secrets
        status, reason = response.status_code, response.reason_phrase
        if status >= 400:
            message = excerpt(error_message(body), secrets)
            raise UpstreamHTTPError(
                f"upstream '{self.name}' answered {status} {reason}" + (f": {message}" if message else ""),
                status,
                response.headers.get("retry-after"),
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
        value = injected.json(
            value, body
        )  # an upstream that echoes the request must not hand the credential on
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
        mapped.update(tool.header_arguments, tool.cookie_arguments)
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
        files: list[tuple[str, Any]] | None = None
        if tool.body_encoding != "json" and (tool.body is not None or body_names):
            fields = {name: arguments[name] for name in body_names if name in arguments}
            if tool.body_encoding == "form":
                content = urlencode(form_pairs(fields)).encode()
            else:
                files = multipart_parts(fields, tool.input_schema.get("properties", {}))
        elif tool.body_argument is not None:
            if tool.body_argument in arguments:
                content = _json_bytes(arguments[tool.body_argument])
        elif template is not None:
            added = {name: arguments[name] for name in body_names if name in arguments}
            content = _json_bytes({**fill_template(template, arguments), **added})
        elif tool.body is not None or body_names:
            content = _json_bytes({name: arguments[name] for name in body_names if name in arguments})
        headers = httpx.Headers(tool.headers)
        for name in tool.header_arguments:
            if arguments.get(name) is not None:
                headers[name] = self._header_value(name, arguments[name])
        cookies = [
            f"{name}={quote(self._header_value(name, arguments[name]), safe='')}"
            for name in tool.cookie_arguments
            if arguments.get(name) is not None
        ]
        if cookies:
            headers["Cookie"] = "; ".join(cookies)
        headers.update(credentials.headers)  # case-insensitively replaces a header of that name
        if content is not None:
            headers.setdefault("Content-Type", _CONTENT_TYPES[tool.body_encoding])
        try:
            return self._client.build_request(
                tool.method,
                self._base_url + path,
                params=params,
                content=content,
                files=files,
                headers=headers,
            )
        except (httpx.InvalidURL, ValueError) as exc:  # e.g. a query string past httpx's length limit
            raise ConnectorError(
                f"upstream '{self.name}': the request cannot be sent as given ({exc}); "
                "shorten or change the arguments"
            ) from None

    def _header_value(self, name: str, value: Any) -> str:
        text = _text(value)
        if any(ord(c) < 32 or ord(c) == 127 for c in text):  # CR/LF would start another header
            raise ConnectorError(f"upstream '{self.name}': argument '{name}' cannot hold control characters")
        return text

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
                response = await self._send_once_more_if_dropped(request)
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

    async def _send_once_more_if_dropped(self, request: httpx.Request) -> httpx.Response:
        """Send; an idempotent request is sent once more when the connection was dropped before
        any answer came: an upstream closing an idle keep-alive connection just as the pool
        reuses it is routine, and the request never reached the application."""
        try:
            return await self._client.send(request, stream=True)
        except _DROPPED:
            if request.method not in _IDEMPOTENT:
                raise
            return await self._client.send(request, stream=True)


_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
_DROPPED = (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)
"""What sending on a connection the peer already closed raises (no status line was read)."""


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
