"""The hot MCP requests without the SDK's per-request machinery: stateless tools/call and tools/list.

The SDK serves a 2026-07-28 POST by building a request object, a connection, a session, a
context and a middleware chain, validating the params and the result with pydantic, and
writing the envelope with `json.dumps`; with the framework's middleware in front, that was
~70% of a tools/call's gateway CPU. Like /v1 (`broker.llm.proxy.ProxyFirst`), this ASGI
middleware sits before the framework and answers what it can in a few dict lookups:

- a POST to /mcp with a modern `MCP-Protocol-Version` and `Mcp-Method` tools/call or
  tools/list, answered as one JSON exchange: no `progressToken` and no log-level opt-in
  anywhere in the body (those stream: the SDK's SSE mode serves them);
- whose transport checks pass as the SDK's would (Content-Type, Host, Origin, Accept, the
  body limit), whose body decodes to one JSON-RPC request in the common shape (params with
  only the method's own fields), whose envelope passes the SDK's own ladder
  (`classify_inbound_request`: `_meta` pair, header/body agreement) and whose `_meta` the
  SDK accepts (checked once per distinct value), and whose tool declares no `Mcp-Param-*`
  headers; a tools/call whose client declared sampling, elicitation or roots goes to the SDK,
  which can ask it in input-required rounds (`broker.mcp.input_rounds`).

Everything else (errors included) goes on to the framework and the SDK unchanged, with the
body replayed, so every refusal is the SDK's own. What runs here is the same as there: the
caller admitted by `McpGuard.admit` (same 401/403 and challenge), tools/call through the
one pipeline (`broker.mcp.server.call_tool`), pages from `broker.mcp.pages`, results
shaped as the SDK shapes them (`broker.mcp.wire`). A tools/list page is serialised once
per (snapshot, agent view, page, protocol version) and kept on the snapshot. As in
`broker.mcp.transport`, a tools/call is cancelled when its client goes away.

The work is in three steps, `screen_head` (the headers), `screen` (the body) and `answer`,
which the HTTP front (`broker.front`) also calls straight from uvicorn's parser, without an
ASGI scope or middleware, for the requests it reads whole; this middleware serves the rest
(a large or chunked body, a server other than `broker.serving`'s).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any, NamedTuple

import pydantic_core
from mcp.server.transport_security import TransportSecuritySettings
from mcp.shared.exceptions import MCPError
from mcp.shared.inbound import InboundModernRoute, classify_inbound_request
from mcp_types import CLIENT_CAPABILITIES_META_KEY, INTERNAL_ERROR
from mcp_types.methods import validate_client_request
from pydantic import ValidationError
from starlette.types import ASGIApp, Receive, Scope, Send

from broker.catalog import Snapshot
from broker.identity.resource import McpGuard
from broker.mcp import wire
from broker.mcp.channel import STATELESS
from broker.mcp.context import CACHE_META_KEY, parse_narrowing
from broker.mcp.errordata import correlated
from broker.mcp.exchange import GONE, may_stream, replay, replay_messages, respond, unless_gone
from broker.mcp.input_rounds import input_required_result
from broker.mcp.listing import wire_forms
from broker.mcp.pages import PAGE_SIZE, next_cursor, page_start
from broker.mcp.server import call_tool
from broker.metrics import LoopCounter
from broker.pipeline import Next, ToolCall
from broker.telemetry.logs import current_request_id

log = logging.getLogger("broker.mcp")

_METHODS = {b"tools/call": "tools/call", b"tools/list": "tools/list"}
_FIELDS = {
    "tools/call": frozenset({"name", "arguments", "_meta"}),
    "tools/list": frozenset({"cursor", "_meta"}),
}
_ASKABLE = ("sampling", "elicitation", "roots")


def _can_be_asked(meta: dict[str, Any]) -> bool:
    """Whether the client declared a capability an upstream may ask it for during the call."""
    declared = meta.get(CLIENT_CAPABILITIES_META_KEY)
    return isinstance(declared, dict) and any(declared.get(name) is not None for name in _ASKABLE)


_ROUTING = (b"mcp-protocol-version", b"mcp-method", b"mcp-name")
_ROUTING_NAMES = tuple((name, name.decode()) for name in _ROUTING)
_KNOWN_ENVELOPES = 4096
"""Distinct envelopes (`_meta`, method, name, routing headers) whose verdict is remembered: a
client sends the same ones every time, and the SDK's ladder and `_meta` checks cost ~6% of
a cache hit's app time."""
_META_MEMO_BYTES = 4096
"""A larger `_meta` is checked every time rather than kept."""
_KNOWN_TRANSPORTS = 1024
"""Distinct (Content-Type, Accept, Host, Origin) values whose transport verdict is remembered."""
_PAGES = 10_000
"""Serialised tools/list pages kept per snapshot."""
DECLINED = "broker.mcp.declined"
"""Scope key of a request the HTTP front (broker/front.py) screened and left to the SDK."""


class Screened(NamedTuple):
    """A request the fast path answers: what `screen` found in it."""

    method: str
    request_id: str | int
    params: dict[str, Any]
    version: str
    head: dict[bytes, bytes]
    snapshot: Snapshot


class McpFastPath:
    """ASGI middleware in front of the app: see the module docstring."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        snapshot: Callable[[], Snapshot],
        pipeline: Next,
        guard: McpGuard,
        security: TransportSecuritySettings,
        max_body: int,
        server_info: dict[str, Any],
        answered: LoopCounter,
        path: str = "/mcp",
    ) -> None:
        self.app = app
        self.snapshot = snapshot
        self.pipeline = pipeline
        self.guard = guard
        self.security = security
        self.max_body = max_body
        self.stamp = server_info
        self.path = path
        self._envelopes: dict[tuple[Any, ...], str | None] = {}
        self._transports: dict[tuple[bytes | None, ...], bool] = {}
        self._answered = {name: answered.child(name) for name in _FIELDS}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "POST"
            or scope["path"] != self.path
            or DECLINED in scope
        ):
            await self.app(scope, receive, send)
            return
        found = self.screen_head(scope["headers"])
        if found is None:
            await self.app(scope, receive, send)
            return
        head, method = found
        body, rest = await self._body(head, receive)
        if body is None:
            if rest is not None:
                await self.app(scope, rest, send)
            return
        request = self.screen(head, method, body)
        if request is None:
            await self.app(scope, replay(body, receive), send)
            return
        await self.answer(request, scope, receive, send)

    def screen_head(self, headers: list[tuple[bytes, bytes]]) -> tuple[dict[bytes, bytes], str] | None:
        """The first value of each header and the method, when the head is one this path may
        answer (a POST to `path` is assumed), else None."""
        head = _head(headers)
        method = _METHODS.get(head.get(b"mcp-method", b"")) if head is not None else None
        if head is None or method is None or not self._transport_ok(head):
            return None
        return head, method

    def screen(self, head: dict[bytes, bytes], method: str, body: bytes) -> Screened | None:
        """The request to answer here, or None: the SDK answers it (given the body again)."""
        request = self._request(body, method, head) if not may_stream(body) else None
        if request is None:
            return None
        snapshot = self.snapshot()
        if method == "tools/call":
            tool = snapshot.tools.get(request[1]["name"])
            if tool is not None and tool.param_headers:  # the SDK checks the Mcp-Param-* headers
                return None
        return Screened(method, *request, head, snapshot)

    async def answer(self, screened: Screened, scope: Scope, receive: Receive, send: Send) -> None:
        """Admit the caller and answer (or refuse) with one response on `send`; nothing when
        the client went away during a call (`receive` gives `http.disconnect` then)."""
        method, request_id, params, version, head, snapshot = screened
        agent = await self.guard.admit(scope, send)
        if agent is None:
            return
        only = parse_narrowing(_text(head.get(b"mcp-context")))
        try:
            if method == "tools/list":
                status, answer = (
                    wire.OK,
                    wire.response(request_id, self._page(snapshot, agent, only, params, version)),
                )
            else:
                call = ToolCall(
                    request_id=current_request_id() or str(uuid.uuid4()),
                    agent=agent,
                    tool_name=params["name"],
                    arguments=dict(params.get("arguments") or {}),
                    snapshot=snapshot,
                    only_connectors=only,
                    cache_bypass=params["_meta"].get(CACHE_META_KEY) == "bypass",
                    channel=STATELESS,
                )
                output = await unless_gone(receive, call_tool(self.pipeline, call), scope.get(GONE))
                if output is None:  # the client went away: nobody to answer
                    return
                if output.input_required is not None:  # as on_call_tool answers it
                    asked = input_required_result(output.input_required)
                    shaped = wire.sdk_shaped("tools/call", version, asked, self.stamp)
                else:
                    shaped = wire.tool_result(output, version, self.stamp)
                status, answer = wire.OK, wire.result_response(request_id, shaped)
        except MCPError as exc:
            status, answer = wire.error(
                request_id, exc.error.code, exc.error.message, correlated(exc.error.data)
            )
        except Exception:
            log.exception("MCP %s handler raised", method)  # as the SDK answers a handler's crash
            status, answer = wire.error(request_id, INTERNAL_ERROR, "Internal server error")
        await respond(send, status, answer)
        self._answered[method].value += 1

    def _transport_ok(self, head: dict[bytes, bytes]) -> bool:
        """`_transport_verdict`, remembered per distinct set of those headers (a client sends
        the same ones every time)."""
        key = (head.get(b"content-type"), head.get(b"accept"), head.get(b"host"), head.get(b"origin"))
        verdict = self._transports.get(key)
        if verdict is None:
            if len(self._transports) >= _KNOWN_TRANSPORTS:
                self._transports.clear()
            verdict = self._transports[key] = self._transport_verdict(head)
        return verdict

    def _transport_verdict(self, head: dict[bytes, bytes]) -> bool:
        """Content-Type, Host, Origin and Accept as the SDK checks them (it answers the failures)."""
        content_type = _text(head.get(b"content-type"))
        if content_type is None or not content_type.lower().startswith("application/json"):
            return False
        if not _accepts_json(_text(head.get(b"accept")) or ""):
            return False
        settings = self.security
        if not settings.enable_dns_rebinding_protection:
            return True
        host, origin = _text(head.get(b"host")), _text(head.get(b"origin"))
        if not host or not _allowed(host, settings.allowed_hosts):
            return False
        return not origin or _allowed(origin, settings.allowed_origins)

    async def _body(self, head: dict[bytes, bytes], receive: Receive) -> tuple[bytes | None, Receive | None]:
        """The whole body within the limit, else None and how the SDK gets the request (None:
        the client left)."""
        declared = head.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body:
            return None, receive  # the SDK answers 413 before reading
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return None, None
            chunk = message.get("body", b"")
            chunks.append(chunk)
            size += len(chunk)
            more = message.get("more_body", False)
            if size > self.max_body:
                read = {"type": "http.request", "body": b"".join(chunks), "more_body": more}
                return None, replay_messages([read], receive)
            if not more:
                return b"".join(chunks), None

    def _request(
        self, body: bytes, method: str, head: dict[bytes, bytes]
    ) -> tuple[str | int, dict[str, Any], str] | None:
        """(id, params, protocol version) of a request in the common shape, else None."""
        try:
            decoded = pydantic_core.from_json(body, cache_strings="keys")  # (see connectors/mcp/answers.py)
        except ValueError:
            return None
        if not isinstance(decoded, dict) or decoded.keys() != {"jsonrpc", "id", "method", "params"}:
            return None
        request_id, params = decoded["id"], decoded["params"]
        if decoded["jsonrpc"] != "2.0" or decoded["method"] != method or not isinstance(params, dict):
            return None
        if isinstance(request_id, bool) or not isinstance(request_id, str | int):
            return None
        if not params.keys() <= _FIELDS[method] or not isinstance(params.get("_meta"), dict):
            return None
        if method == "tools/call":
            arguments = params.get("arguments", {})
            if not isinstance(params.get("name"), str) or not isinstance(arguments, dict):
                return None
        elif not isinstance(params.get("cursor", ""), str):
            return None
        meta = params["_meta"]
        shown = pydantic_core.to_json(meta)
        if len(shown) > _META_MEMO_BYTES:
            version = self._envelope(decoded, method, meta, head)
            return None if version is None else (request_id, params, version)
        # Everything the envelope checks read: the meta, the method, the name, the routing headers.
        key = (shown, method, params.get("name"), *(head.get(raw) for raw, _ in _ROUTING_NAMES))
        try:
            version = self._envelopes[key]
        except KeyError:
            if len(self._envelopes) >= _KNOWN_ENVELOPES:
                self._envelopes.clear()
            version = self._envelopes[key] = self._envelope(decoded, method, meta, head)
        return None if version is None else (request_id, params, version)

    @staticmethod
    def _envelope(
        decoded: dict[str, Any], method: str, meta: dict[str, Any], head: dict[bytes, bytes]
    ) -> str | None:
        """The protocol version when the envelope passes the SDK's ladder and its `_meta` the
        SDK's params validation, else None (the SDK answers); None too for a tools/call whose
        client can be asked (the SDK path asks it in input-required rounds)."""
        if method == "tools/call" and _can_be_asked(meta):
            return None
        routing = {name: value.decode("latin-1") for name, value in _routing(head)}
        verdict = classify_inbound_request(decoded, headers=routing)
        if not isinstance(verdict, InboundModernRoute):
            return None
        try:
            validate_client_request("tools/list", verdict.protocol_version, {"_meta": meta})
        except (ValidationError, KeyError):
            return None
        return verdict.protocol_version

    def _page(
        self,
        snapshot: Snapshot,
        agent: Any,
        only: frozenset[str] | None,
        params: dict[str, Any],
        version: str,
    ) -> bytes:
        """One tools/list page as JSON, serialised once per snapshot, view, page and version."""
        view = snapshot.granted_tools(agent, only)
        start = page_start(params.get("cursor"), "tools")
        key = ("tools/list", id(view), start, version)
        kept = snapshot.memo.get(key)
        if kept is not None and kept[0] is view:
            page: bytes = kept[1]
            return page
        end = start + PAGE_SIZE
        page = wire.tools_page(
            wire_forms(view[start:end], version), next_cursor("tools", end, len(view)), self.stamp
        )
        if len(snapshot.memo) >= _PAGES:
            snapshot.memo.clear()
        snapshot.memo[key] = (view, page)
        return page


def _head(headers: list[tuple[bytes, bytes]]) -> dict[bytes, bytes] | None:
    """The first value of each header; None when a routing header is repeated (the SDK refuses)."""
    found: dict[bytes, bytes] = {}
    for name, value in headers:
        if name in found:
            if name in _ROUTING:
                return None
            continue
        found[name] = value
    return found


def _routing(head: dict[bytes, bytes]) -> list[tuple[str, bytes]]:
    """The routing headers present, by their lowercase names as the SDK's ladder reads them."""
    return [(name, head[raw]) for raw, name in _ROUTING_NAMES if raw in head]


def _text(value: bytes | None) -> str | None:
    return value.decode("latin-1") if value is not None else None


def _accepts_json(accept: str) -> bool:
    """`mcp.server.streamable_http.check_accept_headers`'s JSON half."""
    types = [part.strip().split(";")[0].strip().lower() for part in accept.split(",")]
    return any(t in ("*/*", "application/json", "application/*") for t in types)


def _allowed(value: str, allowed: list[str]) -> bool:
    """`TransportSecurityMiddleware`'s host/origin rule: exact, or a `:*` port wildcard."""
    if value in allowed:
        return True
    return any(entry.endswith(":*") and value.startswith(entry[:-1]) for entry in allowed)
