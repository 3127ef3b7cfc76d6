"""A tools/call that needs nothing of the session but its answer, posted without the SDK's transport.

Why this module exists: on a 2026-07-28 (stateless) upstream session the SDK sends every request
through its JSON-RPC dispatcher, a memory stream to the Streamable HTTP transport, a task spawned
per POST and a memory stream back: measured on this machine that machinery cost more gateway
CPU per federated tools/call than everything else on the call together. Only the wire part is
replaced here, and only for the common call: `install` wraps the session's
`send_raw_request` (the dispatcher's, a private attribute, as `relay.declare_per_caller` wraps the
stamp), so the SDK still builds the request (stamp, `_meta`, `Mcp-Name` and `Mcp-Param-*`
headers), validates the result against the negotiated revision and the tool's output schema,
drives input-required rounds and retries a `HEADER_MISMATCH`; the wrapper posts the JSON-RPC
request over the lean HTTP/1.1 client (`connectors/http1/`: httpx2 alone cost ~1.2 ms of CPU
per call here) with the same timeouts, and `lean_wire.py` sends it as the session's httpx2
client would and reads the answer as the SDK's transport reads it.

The lean post is taken for a `tools/call` sent inside `relay.relaying` for a caller that wants
neither progress nor log messages and can answer no request (what the MCP fast path's calls
are); anything else goes the SDK's way. What such a call can receive besides its answer is
what the SDK would drop or hand to the session's message handler (`lean_wire.py` says which).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import weakref
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextvars import ContextVar
from typing import Any

import mcp_types as types
from mcp.client.client import Client
from mcp.client.session import ClientSession
from mcp.shared._otel import inject_trace_context
from mcp.shared.exceptions import MCPError
from mcp.shared.inbound import MCP_PROTOCOL_VERSION_HEADER
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from opentelemetry import context as otel_context

from connectors.base import ClientChannel
from connectors.mcp import relay
from connectors.mcp.lean_wire import Notice, Wire, exchange
from connectors.mcp.lenient import normalise

_ids = itertools.count(1_000_000_000)
"""JSON-RPC ids of lean posts (each POST is its own exchange on 2026-07-28; distinct anyway)."""
_INPUT_METHODS = tuple(relay.INPUT_METHODS)

Post = Callable[[str, Mapping[str, Any] | None, Mapping[str, Any]], Awaitable[dict[str, Any]]]
"""A lean post of one request (method, params, the dispatcher's options): its result, or MCPError."""

_posts: weakref.WeakKeyDictionary[ClientSession, Post] = weakref.WeakKeyDictionary()
"""Each 2026-07-28 session's lean post, by the client's session (a `Client` is not hashable)."""
_replay: ContextVar[list[dict[str, Any] | MCPError] | None] = ContextVar("mcp_lean_replay", default=None)


def install(client: Client, wire: Wire, on_notice: Notice) -> None:
    """Post quiet tools/calls of this 2026-07-28 session lean (a no-op on 2025 sessions)."""
    if client.protocol_version not in MODERN_PROTOCOL_VERSIONS:
        return
    dispatcher = client.session._dispatcher
    sdk_send = dispatcher.send_raw_request
    version = client.protocol_version

    async def send_raw_request(
        method: str, params: Mapping[str, Any] | None, opts: Any = None, **kwargs: Any
    ) -> dict[str, Any]:
        if method == "tools/call" and (answer := _replayed()) is not None:
            if isinstance(answer, MCPError):
                raise answer
            return answer
        if kwargs or not (_listing(method, opts) or (method == "tools/call" and _quiet(params, opts))):
            return await sdk_send(method, params, opts, **kwargs)
        return await _post(wire, version, on_notice, method, params, opts or {})

    dispatcher.send_raw_request = send_raw_request  # type: ignore[method-assign]
    _posts[client.session] = functools.partial(_post, wire, version, on_notice)


def post_for(client: Client) -> Post | None:
    """The lean post of a 2026-07-28 session's client (None: not installed, a 2025 session)."""
    return _posts.get(client.session)


@contextlib.contextmanager
def replaying(answer: dict[str, Any] | MCPError) -> Iterator[None]:
    """Within the block, the next tools/call the session sends is not posted: `answer` (a
    result already received, or the error it ended with) stands for the upstream's answer."""
    token = _replay.set([answer])
    try:
        yield
    finally:
        _replay.reset(token)


def _replayed() -> dict[str, Any] | MCPError | None:
    held = _replay.get()
    return held.pop() if held else None


def _listing(method: str, opts: Any) -> bool:
    """A page of tools/list the connector asks for (listing.py): its answer may be ~10 MB."""
    return method == "tools/list" and not (opts and (opts.get("on_progress") or opts.get("request_id")))


def _quiet(params: Mapping[str, Any] | None, opts: Any) -> bool:
    """A call made for a caller that hears nothing and answers nothing during it (see the docstring)."""
    channel = relay.current_channel()
    if channel is None or not quiet(channel):
        return False
    if opts and (opts.get("on_progress") is not None or opts.get("request_id") is not None):
        return False
    return params is None or "task" not in params


def quiet(channel: ClientChannel) -> bool:
    """Whether the caller wants neither progress nor log messages and can answer no request."""
    if channel.wants_progress or channel.log_level is not None:
        return False
    return not any(channel.can_ask(method) for method in _INPUT_METHODS)


async def _post(
    wire: Wire,
    version: str,
    on_notice: Notice,
    method: str,
    params: Mapping[str, Any] | None,
    opts: Mapping[str, Any],
) -> dict[str, Any]:
    """The dispatcher's contract: the result, or MCPError (the peer's error, a timeout)."""
    out_params = dict(params or {})
    meta = dict(out_params.get("_meta") or {})
    if otel_context.get_current():  # an empty context (no span, no baggage) has nothing to inject
        inject_trace_context(meta)
    if meta:
        out_params["_meta"] = meta
    else:
        out_params.pop("_meta", None)
    body = {"jsonrpc": "2.0", "id": next(_ids), "method": method, "params": out_params}
    headers = {
        "accept": "application/json, text/event-stream",
        "content-type": "application/json",
        MCP_PROTOCOL_VERSION_HEADER: version,
        **opts.get("headers", {}),
    }
    timeout = opts.get("timeout")
    try:
        async with asyncio.timeout(timeout) if timeout is not None else contextlib.nullcontext():
            outcome = await exchange(wire, body, headers, on_notice)
    except TimeoutError:
        raise MCPError(code=types.REQUEST_TIMEOUT, message=f"Request {method!r} timed out") from None
    if isinstance(outcome, types.ErrorData):
        raise MCPError(code=outcome.code, message=outcome.message, data=outcome.data)
    normalise(method, outcome)
    return outcome
