"""What every MCP handler asks of the request: who calls, and how it narrows its view."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import mcp_types as types
from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.context import ServerRequestContext
from mcp.shared.exceptions import MCPError

from broker.catalog import AgentIdentity
from broker.identity.resource import caller_of

CONTEXT_HEADER = "mcp-context"
CACHE_META_KEY = "broker/cache"
"""A request `_meta` key: "bypass" asks the gateway for a fresh result instead of a cached one."""
LIST_TTL_MS = 10_000
"""How long a client may reuse a list: short, since a policy change should show quickly."""


def caller() -> AgentIdentity:
    token = get_access_token()
    if token is None:  # the transport's auth middleware refuses these before we run
        raise MCPError(types.INVALID_REQUEST, "authentication required")
    return caller_of(token)


def narrowing(ctx: ServerRequestContext[Any]) -> frozenset[str] | None:
    """Connector names from the MCP-Context header: a caller may narrow its view, never widen it."""
    request = ctx.request
    headers = getattr(request, "headers", None)
    if headers is None:
        return None
    return parse_narrowing(headers.get(CONTEXT_HEADER))


def parse_narrowing(raw: str | None) -> frozenset[str] | None:
    """The connector names of an `MCP-Context` header value (None: the header is absent)."""
    if raw is None:
        return None
    return frozenset(part.strip() for part in raw.split(",") if part.strip())


def bypasses_cache(meta: Mapping[str, Any] | None) -> bool:
    """`_meta` {"broker/cache": "bypass"}: the caller asks for a fresh result (its policy may refuse)."""
    return dict(meta or {}).get(CACHE_META_KEY) == "bypass"
