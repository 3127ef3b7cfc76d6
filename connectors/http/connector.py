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
broker decides where requests go. Cookies an upstream sets are not kept (httpx's client kept
them and sent them with every later call, whichever agent made it).

`auth` (connectors/auth.py) names the secrets the broker injects into each request; their
values are blanked out of every error message and result that echoes them.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from connectors import http1
from connectors.auth import NO_CREDENTIALS, HttpAuth
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
    HttpConnectorConfig,
    HttpToolConfig,
    Method,
    ToolAnnotations,
    placeholders,
    tool_spec,
)
from connectors.http.io import (
    BorrowedTransport,
    UndecodableBody,
    error_message,
    excerpt,
    read_bounded,
    read_decoded,
    size_text,
    transport_problem,
)
from connectors.http.outgoing import Outgoing, RequestBuilder
from connectors.jsonwire import parse_json
from connectors.netguard import (
    AddressResolver,
    BlockedDestination,
    UnresolvableHost,
    checked_address,
    outbound_transport,
)
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
_NOT_SECRET_HEADERS = frozenset({"accept", "accept-language", "content-type", "user-agent"})
_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
_MAX_CONNECTIONS = 100  # as httpx's default pool
_KEEPALIVE_SECONDS = 5.0  # as httpx's default pool: an upstream's idle timeout is rarely shorter
_DEFAULT_HEADERS = {  # what httpx sent with every request, kept so upstreams see no change
    "Accept-Encoding": "gzip, deflate",
    "Connection": "keep-alive",
    "User-Agent": f"python-httpx/{httpx.__version__}",
}


@dataclasses.dataclass(frozen=True, slots=True)
class Answer:
    """The upstream's answer, read (bounded) and closed; header names are looked up in lower case."""

    status: int
    reason: str
    headers: Mapping[str, str]
    body: bytes
    truncated: bool


class HttpConnector:
    """Calls the declared tools of one HTTP upstream through one connection pool: the lean
    HTTP/1.1 client (connectors/http1/), behind the outbound guard unless the config allows
    private networks, through the HTTPS proxy and trusting the CA bundle of connectors/outbound.py.

    `transport` replaces the network with an httpx transport (httpx.MockTransport in tests);
    it stays owned by the caller and is not closed by `aclose`. OAuth token requests always go
    through httpx (connectors/auth.py), over the guarded transport.
    """

    def __init__(
        self, config: HttpConnectorConfig, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.config = config
        self._tools = {tool.name: tool for tool in config.tools}
        self._specs = tuple(tool_spec(tool) for tool in config.tools)
        self._resources = resources.resource_specs(config.resources)
        self._templates = resources.template_specs(config.resources)
        self._secrets = scrubber(*_secret_values(config))
        self._auth = (
            HttpAuth(config.auth, config.name, timeout=config.timeout_seconds) if config.auth else None
        )
        headers = {"Accept": "application/json", **config.headers}
        self._builder = RequestBuilder(
            config, {"Accept": "application/json", **_DEFAULT_HEADERS, **config.headers}
        )
        self._client = httpx.AsyncClient(
            transport=BorrowedTransport(transport)
            if transport is not None
            else outbound_transport(config.allow_private_network),
            timeout=config.timeout_seconds,
            follow_redirects=False,
            trust_env=False,
            headers=headers,
        )
        self._pool = (
            None
            if transport is not None
            else http1.Http1Pool(
                self._builder.origin,
                max_connections=_MAX_CONNECTIONS,
                connect_timeout=config.timeout_seconds,
                read_timeout=None,  # `_send` bounds the whole call by timeout_seconds
                max_body_bytes=2**62,  # bounded by read_decoded, in decoded bytes
                keepalive_seconds=_KEEPALIVE_SECONDS,
            )
        )
        self._resolver = None if config.allow_private_network else AddressResolver()

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
            answer = await self._send(self._builder.build(config, arguments, credentials))
            if answer.status == 401 and self._auth is not None:
                renewed = await self._auth.renewed(credentials, context, self._client)
                if renewed is not None:  # a fresh OAuth token, tried exactly once
                    credentials = renewed
                    answer = await self._send(self._builder.build(config, arguments, credentials))
            return self._output(answer, credentials.scrub)
        except ConnectorError as exc:
            credentials.scrub.error(exc)
            raise

    def _output(self, answer: Answer, injected: Scrubber) -> ToolOutput:
        """The upstream's answer as a ToolOutput, or the ConnectorError it amounts to."""
        status, reason, body = answer.status, answer.reason, answer.body
        if status >= 400:
            message = excerpt(error_message(body), injected | self._secrets)
            raise UpstreamHTTPError(
                f"upstream '{self.name}' answered {status} {reason}" + (f": {message}" if message else ""),
                status,
                answer.headers.get("retry-after"),
            )
        if status >= 300:
            raise UpstreamBadResponse(
                f"upstream '{self.name}' answered {status} {reason}, a redirect, which is not followed"
            )
        if answer.truncated:
            raise UpstreamBadResponse(
                f"upstream '{self.name}' sent more than the {size_text(self.config.max_response_bytes)} "
                "response limit (max_response_bytes)"
            )
        if not body.strip():
            value: Any = None
        else:
            try:
                value = parse_json(body)
            except (ValueError, RecursionError):
                text = excerpt(
                    body[:400].decode("utf-8", errors="replace"), injected | self._secrets, limit=100
                )
                raise UpstreamBadResponse(
                    f"upstream '{self.name}' answered with "
                    f"{answer.headers.get('content-type') or 'no content type'}, "
                    f"not JSON: {text}"
                ) from None
        value = injected.json(
            value, body
        )  # an upstream that echoes the request must not hand the credential on
        return ToolOutput.from_json(value, {"http_status": status})

    async def aclose(self) -> None:
        if self._pool is not None:
            await self._pool.aclose()
        await self._client.aclose()

    async def __aenter__(self) -> HttpConnector:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def _send(self, request: Outgoing) -> Answer:
        """Send, and read the (bounded) answer within the connector's total time budget."""
        try:
            async with asyncio.timeout(self.config.timeout_seconds):
                if self._pool is None:
                    return await self._send_httpx(request)
                return await self._send_lean(self._pool, request)
        except (TimeoutError, httpx.TimeoutException, http1.UpstreamTimeout) as exc:
            raise UpstreamTimeout(
                f"upstream '{self.name}' did not answer within {self.config.timeout_seconds:g} s"
            ) from exc
        except (httpx.DecodingError, UndecodableBody) as exc:
            raise UpstreamBadResponse(f"upstream '{self.name}' sent an undecodable body ({exc})") from exc
        except BlockedDestination as exc:
            raise BlockedDestination(f"upstream '{self.name}': {exc.message}") from None

    async def _send_lean(self, pool: http1.Http1Pool, request: Outgoing) -> Answer:
        """Over the lean client, to the address the outbound guard checked (resolved per call,
        cached briefly). An idempotent request is sent once more when a kept-alive connection
        turns out closed before any answer came (see `_send_httpx`)."""
        where = f"{pool.host}:{pool.port}"
        try:
            address = None
            if self._resolver is not None:
                address = str(await checked_address(self._resolver, self._builder.url))
            response = await pool.request(
                request.method, request.target, request.headers, request.body,
                address=address, resend=1 if request.method in _IDEMPOTENT else 0,
            )  # fmt: skip
            try:
                limit = self._limit(response.status_code)
                body, truncated = await read_decoded(response, limit)
            finally:
                await response.aclose()
        except UnresolvableHost as exc:
            raise UpstreamUnreachable(
                f"upstream '{self.name}' is unreachable: cannot connect to {where} ({exc})"
            ) from exc
        except http1.ConnectFailed as exc:
            raise UpstreamUnreachable(
                f"upstream '{self.name}' is unreachable: cannot connect to {where} ({exc.detail})"
            ) from exc
        except http1.ProtocolViolation as exc:
            raise UpstreamUnreachable(
                f"upstream '{self.name}' is unreachable: {where} broke the HTTP protocol ({exc})"
            ) from exc
        except http1.UpstreamConnectionError as exc:
            raise UpstreamUnreachable(
                f"upstream '{self.name}' is unreachable: connection to {where} failed ({exc})"
            ) from exc
        return Answer(response.status_code, response.reason_phrase, response.headers, body, truncated)

    async def _send_httpx(self, outgoing: Outgoing) -> Answer:
        """Over the httpx client (an injected transport). An idempotent request is sent once
        more when the connection was dropped before any answer came: an upstream closing an
        idle keep-alive connection just as the pool reuses it is routine, and the request never
        reached the application."""
        request = self._client.build_request(
            outgoing.method,
            self._builder.origin + outgoing.target,
            content=outgoing.body,
            headers=outgoing.headers,
        )
        try:
            try:
                response = await self._client.send(request, stream=True)
            except _DROPPED:
                if request.method not in _IDEMPOTENT:
                    raise
                response = await self._client.send(request, stream=True)
            try:
                body, truncated = await read_bounded(response, self._limit(response.status_code))
            finally:
                await response.aclose()
        except httpx.TransportError as exc:
            if isinstance(exc, httpx.TimeoutException | httpx.DecodingError):
                raise
            raise UpstreamUnreachable(
                f"upstream '{self.name}' is unreachable: {transport_problem(exc, request.url)}"
            ) from exc
        return Answer(response.status_code, response.reason_phrase, response.headers, body, truncated)

    def _limit(self, status: int) -> int:
        limit = self.config.max_response_bytes
        return limit if 200 <= status < 300 else min(limit, _ERROR_BODY_LIMIT)


_DROPPED = (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)
"""What sending on a connection the peer already closed raises (no status line was read)."""


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
