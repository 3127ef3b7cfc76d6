"""What went wrong talking to an upstream MCP server: the connector errors agents see, and
how a failure is classified (is the session gone, is it worth another attempt)."""

from __future__ import annotations

import asyncio

import httpx2
import mcp_types as types
from mcp.shared.exceptions import MCPError

from connectors.errors import (
    ConnectorError,
    UpstreamBadResponse,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnreachable,
)
from connectors.netguard import BlockedDestination


def leaf_error(exc: BaseException) -> BaseException:
    """The first non-group exception inside (nested) exception groups."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


def upstream_error(name: str, exc: BaseException, timeout: float, detail: str = "") -> ConnectorError:
    """The connector error for a failure talking to upstream `name`; `detail` is appended (stderr)."""
    exc = leaf_error(exc)
    suffix = f"; {detail}" if detail else ""
    if isinstance(exc, BlockedDestination):
        return BlockedDestination(f"upstream '{name}': {exc.message}")
    if isinstance(exc, ConnectorError):
        return exc
    if isinstance(exc, TimeoutError | httpx2.TimeoutException) or (
        isinstance(exc, MCPError) and exc.code == types.REQUEST_TIMEOUT
    ):
        return UpstreamTimeout(f"upstream '{name}' did not answer within {timeout:g} s{suffix}")
    if isinstance(exc, MCPError) and _over_limit(exc.error.message):
        return UpstreamBadResponse(
            f"upstream '{name}' sent an answer over its response limit (max_response_bytes)"
        )
    if isinstance(exc, MCPError) and exc.code == types.CONNECTION_CLOSED:
        return UpstreamUnreachable(f"upstream '{name}' closed the connection{suffix}")
    if isinstance(exc, MCPError):
        text = _excerpt(exc.error.message)
        return UpstreamError(f"upstream '{name}' answered with error {exc.code}: {text}{suffix}")
    if isinstance(exc, httpx2.ConnectError):
        return UpstreamUnreachable(
            f"upstream '{name}' is unreachable: could not connect ({_excerpt(str(exc))})"
        )
    if isinstance(exc, httpx2.DecodingError):
        return UpstreamBadResponse(f"upstream '{name}' sent an undecodable answer: {_excerpt(str(exc))}")
    if isinstance(exc, httpx2.TransportError | ConnectionError):
        kind = type(exc).__name__
        return UpstreamUnreachable(f"upstream '{name}' is unreachable: {kind} {_excerpt(str(exc))}".rstrip())
    if isinstance(exc, OSError):
        reason = exc.strerror or type(exc).__name__
        if exc.filename:
            reason = f"{reason}: {exc.filename}"
        return UpstreamUnreachable(f"upstream '{name}' could not be started: {reason}{suffix}")
    return UpstreamBadResponse(f"upstream '{name}' sent an unusable answer: {_excerpt(str(exc))}{suffix}")


def _over_limit(message: str) -> bool:
    """Whether an SDK error reports one of our size limits (the body cap, or the SSE event cap)."""
    return "max_response_bytes" in message or ("Server-sent event exceeded" in message and "limit" in message)


def _excerpt(text: str, limit: int = 300) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def session_lost(exc: BaseException, closed: bool) -> bool:
    """Whether a failure means the session is gone (`closed`: its task ended), not that one
    request failed."""
    return (
        closed or session_rejected(exc) or (isinstance(exc, MCPError) and exc.code == types.CONNECTION_CLOSED)
    )


def session_rejected(exc: BaseException) -> bool:
    """The upstream refused the request for its session ("Session not found" after a restart)."""
    return (
        isinstance(exc, MCPError)
        and exc.code == types.INVALID_REQUEST
        and "session" in exc.error.message.lower()
    )


def transient(exc: BaseException) -> bool:
    """A connection failure worth another attempt (refused, reset, closed mid-handshake)."""
    if isinstance(exc, MCPError):
        return exc.code == types.CONNECTION_CLOSED
    return isinstance(exc, httpx2.TransportError | ConnectionError) and not isinstance(
        exc, httpx2.TimeoutException
    )


def http_refused(exc: BaseException) -> bool:
    """The SDK's stand-in for a request refused with an HTTP error status (the tool did not run)."""
    return (
        isinstance(exc, MCPError)
        and exc.code == types.INTERNAL_ERROR
        and exc.error.message == "Server returned an error response"
    )


def informative(exc: BaseException) -> bool:
    return not isinstance(exc, asyncio.CancelledError)
