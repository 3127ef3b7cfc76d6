"""The relay between an upstream MCP session and the client whose call is running on it.

Why this module exists: the gateway keeps one long-lived upstream session per credential set
(`links.py`), shared by every caller, while what the upstream sends during a call (progress,
log messages, elicitation / roots / sampling requests) belongs to the one client that made
that call. The SDK has no notion of "the caller" on a shared client session, so we go past
it here, and only here:

- The connector sets `_CHANNEL` (a ContextVar) to the caller's `ClientChannel` around
  `call_tool`. The SDK carries the sender's contextvars through its transport: the POST of a
  request runs in the caller's context, and every message that arrives on that POST's
  response stream is handled in it. So the callbacks below, run for an upstream request or
  log message that came with the call, see the caller's channel; one that came outside any
  call (the standalone GET stream, a stdio pipe) sees none and is refused with a clear error.
- On 2026-07-28 the upstream's requests come back as an `InputRequiredResult`; the SDK's
  `Client.call_tool` answers them through the same callbacks, in the caller's own task. When
  the caller is itself a 2026-07-28 client that declared the capability, it can only answer
  through input-required rounds of its own: `call_tool` then drives the upstream's rounds
  itself, answers what the gateway can (sampling it serves), and ends the call with an
  `InputRequired` carrying the rest and the upstream's state; the client's retry resumes it
  (`CallContext.resume`; the broker seals the state, broker/mcp/input_rounds.py).
- Progress uses the SDK's own per-request callback (the upstream progress token is the
  upstream request id, mapped back by the SDK); the client's token never goes upstream.
- Log messages: on 2026-07-28 the caller's level goes upstream as the per-request opt-in;
  on 2025 sessions the upstream sends what it likes and the level is applied here.
- Cancellation is the SDK's: a cancelled `call_tool` sends `notifications/cancelled`
  upstream (2025) or aborts the request's POST (2026-07-28).

A 2025 client that can answer requests is served over a 2025 upstream session of its own
(`uses_2025_session`; one more slot per credential set, opened on first need): a 2025-style
upstream tool can ask only on the open stream, which a 2026-07-28 session does not have.

Client capabilities, per caller. What the gateway can honour differs per caller: elicitation
and roots when the calling client declared them (and can be reached), sampling when it did or
when the agent's policy lets the gateway's LLM proxy answer (`ClientChannel.capabilities()`).

- On a 2026-07-28 upstream session every request carries the client's capabilities in its
  `_meta`; the SDK stamps one set, fixed at connect, on all of them. `declare_per_caller`
  wraps the session's stamp (a private attribute, `ClientSession._stamp`: the SDK offers no
  per-request override, and `meta=` cannot replace that key) so that a request sent inside
  `relaying` (a tool call, its input-required retries, its cancellation) carries exactly the
  caller's set, while the gateway's own requests (listings, pings) carry the full set the
  Client was built with, so the shared catalog shows what any caller may be offered.
- A 2025 upstream session declares its capabilities once, at `initialize`, for every request
  that follows. There the gateway declares the full set and answers for each caller: a caller
  that cannot answer gets the upstream a JSON-RPC error saying so. A session per capability
  set would make these exact too, but its listings would differ per set (an upstream that hides
  a tool from clients without elicitation), and the catalog is one per connector; a stdio
  upstream would cost a process per set.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from contextvars import ContextVar
from typing import Any

import mcp_types as types
from mcp.client.client import Client
from mcp.client.session import ClientRequestContext
from mcp.shared.exceptions import MCPError
from mcp_types import CLIENT_CAPABILITIES_META_KEY, LOG_LEVEL_META_KEY
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import ValidationError

from connectors.base import LOG_LEVELS, CallContext, ClientChannel, ClientRequestRefused, InputRequired

log = logging.getLogger(__name__)

_CHANNEL: ContextVar[ClientChannel | None] = ContextVar("mcp_relay_channel", default=None)
_RANK = {level: rank for rank, level in enumerate(LOG_LEVELS)}
_NO_CALLER = "this request did not come with a call made through the gateway, so no client can answer it"


class relaying:
    """Route what the upstream sends during the block to `channel` (a class rather than a
    generator-based context manager: it runs on every call, and costs a third as much)."""

    __slots__ = ("_channel", "_token")

    def __init__(self, channel: ClientChannel) -> None:
        self._channel = channel

    def __enter__(self) -> None:
        self._token = _CHANNEL.set(self._channel)

    def __exit__(self, *exc_info: object) -> None:
        _CHANNEL.reset(self._token)


def current_channel() -> ClientChannel | None:
    """The channel of the call running in this context (None outside `relaying`)."""
    return _CHANNEL.get()


INPUT_METHODS: dict[str, type[types.Result]] = {
    "elicitation/create": types.ElicitResult,
    "sampling/createMessage": types.CreateMessageResult,
    "roots/list": types.ListRootsResult,
}
MAX_INPUT_ROUNDS = 10


async def call_tool(
    client: Client, tool: str, arguments: dict[str, Any], context: CallContext
) -> types.CallToolResult | InputRequired:
    """Call the tool for the caller of `context`. When that caller answers requests only through
    input-required results (a 2026-07-28 client that declared a capability) and the upstream
    speaks 2026-07-28 too, the upstream's `InputRequiredResult` is not answered by the SDK's
    driver: what the gateway can answer itself (sampling it serves) is answered here, the rest
    ends the call as `InputRequired` for the client, with the upstream's state and the answers
    already made kept in `InputRequired.state`; the client's retry comes back as `context.resume`."""
    channel = context.channel
    options = call_options(channel)
    modern = client.protocol_version in MODERN_PROTOCOL_VERSIONS
    if not modern or not any(channel.defers(method) for method in INPUT_METHODS):
        return await client.call_tool(tool, arguments, **options)
    resume = context.resume
    answers: dict[str, Any] = {}
    methods: dict[str, str] = {}
    state: str | None = None
    if resume is not None:
        answers = {**dict(resume.state.get("answered") or {}), **resume.responses}
        methods = dict(resume.state.get("methods") or {})
        state = resume.state.get("upstream")
    for _ in range(MAX_INPUT_ROUNDS):
        result: types.CallToolResult | types.InputRequiredResult = await client.session.call_tool(
            tool,
            arguments,
            input_responses=_typed(answers, methods) or None,
            request_state=state,
            allow_input_required=True,
            **options,
        )
        if not isinstance(result, types.InputRequiredResult):
            return result
        state, answers, methods, deferred = result.request_state, {}, {}, {}
        for key, request in (result.input_requests or {}).items():
            methods[key] = request.method
            if channel.defers(request.method):
                deferred[key] = request.model_dump(by_alias=True, mode="json", exclude_none=True)
                continue
            answer = await _ask(request.method, request.params)
            if isinstance(answer, types.ErrorData):
                raise MCPError(answer.code, answer.message)
            answers[key] = answer
        if deferred:
            return InputRequired(deferred, {"upstream": state, "answered": answers, "methods": methods})
    raise MCPError(types.INTERNAL_ERROR, f"the upstream asked for input more than {MAX_INPUT_ROUNDS} times")


def _typed(answers: Mapping[str, Any], methods: Mapping[str, str]) -> dict[str, Any]:
    """Answers (JSON) as the SDK's result models, by the method each answers."""
    typed: dict[str, Any] = {}
    for key, answer in answers.items():
        result_type = INPUT_METHODS.get(methods.get(key, ""))
        if result_type is None:
            raise MCPError(types.INVALID_PARAMS, f"inputResponses has '{key}', which was not asked for")
        try:
            typed[key] = result_type.model_validate(answer)
        except ValidationError as exc:
            problem = exc.errors()[0]["msg"]
            raise MCPError(types.INVALID_PARAMS, f"inputResponses['{key}'] is malformed: {problem}") from None
    return typed


def declare_per_caller(client: Client) -> None:
    """On a 2026-07-28 session: stamp each request sent for a call with the caller's
    capabilities (see the module docstring); a no-op on 2025 sessions."""
    if client.protocol_version not in MODERN_PROTOCOL_VERSIONS:
        return
    session = client.session
    stamp = session._stamp

    def per_caller(data: dict[str, Any], options: Any) -> None:
        stamp(data, options)
        channel = _CHANNEL.get()
        if channel is not None:
            data["params"]["_meta"][CLIENT_CAPABILITIES_META_KEY] = dict(channel.capabilities())

    session._stamp = per_caller


LEGACY_SLOT = "~2025-session"
"""Added to a grant's key: the session slot of callers that need a 2025 upstream session."""


def uses_2025_session(channel: ClientChannel) -> bool:
    return channel.asks_on_stream


def call_options(channel: ClientChannel) -> dict[str, Any]:
    """Keyword arguments for `Client.call_tool`: a progress callback when the caller wants
    progress, the caller's log level as the 2026-07-28 per-request opt-in."""
    options: dict[str, Any] = {}
    if channel.wants_progress:
        options["progress_callback"] = channel.progress
    if channel.log_level is not None:
        options["meta"] = {LOG_LEVEL_META_KEY: channel.log_level}
    return options


async def _ask(method: str, params: Any) -> dict[str, Any] | types.ErrorData:
    channel = _CHANNEL.get()
    if channel is None:
        return types.ErrorData(code=types.INVALID_REQUEST, message=f"{method}: {_NO_CALLER}")
    if not channel.can_ask(method):
        served = " and the agent's policies do not let the gateway answer it (no `sampling` section)"
        return types.ErrorData(
            code=types.INVALID_REQUEST,
            message=f"the client that called this tool through the gateway cannot answer '{method}' "
            f"(it did not declare the capability){served if method == 'sampling/createMessage' else ''}",
        )
    body: Mapping[str, Any] = (
        params.model_dump(by_alias=True, mode="json", exclude_none=True) if params is not None else {}
    )
    try:
        return dict(await channel.ask(method, body))
    except ClientRequestRefused as exc:
        return types.ErrorData(code=exc.code, message=exc.message)


async def on_sampling(
    context: ClientRequestContext, params: types.CreateMessageRequestParams
) -> types.CreateMessageResult | types.CreateMessageResultWithTools | types.ErrorData:
    answer = await _ask("sampling/createMessage", params)
    if isinstance(answer, types.ErrorData):
        return answer
    if params.tools or params.tool_choice:
        return types.CreateMessageResultWithTools.model_validate(answer)
    return types.CreateMessageResult.model_validate(answer)


async def on_elicitation(
    context: ClientRequestContext, params: types.ElicitRequestParams
) -> types.ElicitResult | types.ErrorData:
    answer = await _ask("elicitation/create", params)
    return answer if isinstance(answer, types.ErrorData) else types.ElicitResult.model_validate(answer)


async def on_roots(context: ClientRequestContext) -> types.ListRootsResult | types.ErrorData:
    answer = await _ask("roots/list", None)
    return answer if isinstance(answer, types.ErrorData) else types.ListRootsResult.model_validate(answer)


async def on_log(params: types.LoggingMessageNotificationParams) -> None:
    """An upstream log message: to the caller, at or above the level it asked for."""
    channel = _CHANNEL.get()
    if channel is None or channel.log_level is None:
        return
    if _RANK.get(params.level, 0) < _RANK.get(channel.log_level, 0):
        return
    await channel.log(params.level, params.data, params.logger)


CLIENT_CALLBACKS: dict[str, Any] = {
    "sampling_callback": on_sampling,
    "elicitation_callback": on_elicitation,
    "list_roots_callback": on_roots,
    "logging_callback": on_log,
}
"""What every upstream `Client` is built with (see the module docstring)."""
