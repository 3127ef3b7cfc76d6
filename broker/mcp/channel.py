"""The calling MCP client as a `connectors.base.ClientChannel`, built per request.

Progress goes out against the client's own progress token, log messages on the request's
stream at the level the client chose (2026-07-28: the per-request `_meta` opt-in; 2025
sessions: `logging/setLevel`, kept per session in `LogLevels`), and requests to the client
(elicitation, roots, sampling) only when it declared the capability and the transport has a
way back for the answer (a 2025 session; a single 2026-07-28 exchange has none).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import mcp_types as types
from cachetools import TTLCache
from mcp.server.context import ServerRequestContext
from mcp.shared.exceptions import MCPDeprecationWarning, MCPError
from mcp.shared.message import ServerMessageMetadata
from mcp_types import LOG_LEVEL_META_KEY
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import BaseModel, ValidationError

from connectors.base import LOG_LEVELS, ClientRequestRefused

SESSION_HEADER = "mcp-session-id"
ASK_TIMEOUT_SECONDS = 300.0
"""How long a request to the client (a person answering a form) may take."""

_REQUESTS: dict[str, tuple[type[BaseModel], type[BaseModel], str]] = {
    "elicitation/create": (types.ElicitRequest, types.ElicitResult, "elicitation"),
    "roots/list": (types.ListRootsRequest, types.ListRootsResult, "roots"),
    "sampling/createMessage": (types.CreateMessageRequest, types.CreateMessageResult, "sampling"),
}


class LogLevels:
    """`logging/setLevel` per 2025 session (bounded, forgotten after a day idle)."""

    def __init__(self, maxsize: int = 100_000, ttl: float = 86_400) -> None:
        self._levels: TTLCache[str, str] = TTLCache(maxsize=maxsize, ttl=ttl)

    def set(self, session_id: str | None, level: str) -> None:
        if session_id is not None:
            self._levels[session_id] = level

    def get(self, session_id: str | None) -> str | None:
        return self._levels.get(session_id) if session_id is not None else None


def session_id(ctx: ServerRequestContext[Any]) -> str | None:
    headers = getattr(ctx.request, "headers", None)
    return headers.get(SESSION_HEADER) if headers is not None else None


class McpClientChannel:
    """One request's client: the `ClientChannel` a connector talks to during the call."""

    def __init__(self, ctx: ServerRequestContext[Any], levels: LogLevels) -> None:
        self._ctx = ctx
        meta: Mapping[str, Any] = ctx.meta or {}
        self.wants_progress = meta.get("progress_token") is not None
        self.log_level: str | None
        if ctx.protocol_version in MODERN_PROTOCOL_VERSIONS:
            level = meta.get(LOG_LEVEL_META_KEY)
            self.log_level = level if level in LOG_LEVELS else None
        else:  # a 2025 session hears everything until it sets a level
            self.log_level = levels.get(session_id(ctx)) or LOG_LEVELS[0]
        self.asks_on_stream = ctx.protocol_version not in MODERN_PROTOCOL_VERSIONS and any(
            self.can_ask(method) for method in _REQUESTS
        )

    @property
    def url_elicitation(self) -> bool:
        """A 2025-11-25 client that declared URL-mode elicitation: it takes the -32042
        URLElicitationRequired error (retired at 2026-07-28)."""
        if self._ctx.protocol_version in MODERN_PROTOCOL_VERSIONS:
            return False
        capabilities = self._ctx.session.client_capabilities
        elicitation = capabilities.elicitation if capabilities is not None else None
        return elicitation is not None and elicitation.url is not None

    def can_ask(self, method: str) -> bool:
        known = _REQUESTS.get(method)
        session = self._ctx.session
        if known is None or not session.can_send_request:
            return False
        capabilities = session.client_capabilities
        return capabilities is not None and getattr(capabilities, known[2], None) is not None

    def defers(self, method: str) -> bool:
        known = _REQUESTS.get(method)
        if known is None or self._ctx.protocol_version not in MODERN_PROTOCOL_VERSIONS:
            return False
        capabilities = self._ctx.session.client_capabilities
        return capabilities is not None and getattr(capabilities, known[2], None) is not None

    def capabilities(self) -> Mapping[str, Any]:
        session = self._ctx.session
        declared = session.client_capabilities
        modern = self._ctx.protocol_version in MODERN_PROTOCOL_VERSIONS  # answers by input-required
        if declared is None or not (session.can_send_request or modern):
            return {}
        dumped = declared.model_dump(by_alias=True, mode="json", exclude_none=True)
        return {known[2]: dumped[known[2]] for known in _REQUESTS.values() if known[2] in dumped}

    async def progress(self, progress: float, total: float | None = None, message: str | None = None) -> None:
        await self._ctx.session.report_progress(progress, total, message)

    async def log(self, level: str, data: Any, logger: str | None = None) -> None:
        if level not in LOG_LEVELS:
            return
        with warnings.catch_warnings():  # logging is deprecated at 2026-07-28, still ours to relay
            warnings.simplefilter("ignore", MCPDeprecationWarning)
            await self._ctx.session.send_log_message(
                level,  # type: ignore[arg-type]  # checked against LOG_LEVELS above
                data,
                logger,
                related_request_id=self._ctx.request_id,
            )

    async def ask(self, method: str, params: Mapping[str, Any]) -> Mapping[str, Any]:
        if not self.can_ask(method):
            raise _cannot_answer(method)
        request_type, result_type, _ = _REQUESTS[method]
        try:
            request = request_type.model_validate({"method": method, "params": dict(params)})
        except ValidationError as exc:
            raise ClientRequestRefused(
                f"the upstream's '{method}' request is malformed: {exc.errors()[0]['msg']}"
            ) from None
        try:
            result = await self._ctx.session.send_request(
                request,  # type: ignore[arg-type]  # one of the ServerRequest members above
                result_type,
                request_read_timeout_seconds=ASK_TIMEOUT_SECONDS,
                metadata=ServerMessageMetadata(related_request_id=self._ctx.request_id),
            )
        except MCPError as exc:
            raise ClientRequestRefused(exc.error.message, exc.error.code) from None
        dumped: dict[str, Any] = result.model_dump(by_alias=True, mode="json", exclude_none=True)
        return dumped


def _cannot_answer(method: str) -> ClientRequestRefused:
    return ClientRequestRefused(
        f"the calling client cannot answer '{method}' (it did not declare the capability, "
        "or its connection has no way back for the answer)"
    )


class StatelessChannel:
    """A 2026-07-28 request answered as one JSON exchange that asked for neither progress nor log
    messages (the MCP fast path's requests): nothing goes to the client, and requests to it are
    refused as `McpClientChannel` refuses them on such an exchange."""

    log_level: str | None = None
    wants_progress = False
    asks_on_stream = False

    def can_ask(self, method: str) -> bool:
        return False

    def defers(self, method: str) -> bool:
        return False

    def capabilities(self) -> Mapping[str, Any]:
        return {}

    async def progress(self, progress: float, total: float | None = None, message: str | None = None) -> None:
        return None

    async def log(self, level: str, data: Any, logger: str | None = None) -> None:
        return None

    async def ask(self, method: str, params: Mapping[str, Any]) -> Mapping[str, Any]:
        raise _cannot_answer(method)


STATELESS = StatelessChannel()
