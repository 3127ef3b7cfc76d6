"""How an MCP client hears that its user must first connect an upstream (per-user grants).

A 2025-11-25 client that declared URL-mode elicitation gets the spec's URLElicitationRequired
error (-32042) carrying the connect link as a URL elicitation, so it can open it for the
user; every other client gets the same words and link as text (an isError result for
tools/call, a JSON-RPC error with the link in `data` for reads, gets and completions).
"""

from __future__ import annotations

import hashlib

import mcp_types as types
from mcp.shared.exceptions import MCPError, UrlElicitationRequiredError

from broker.connections import NotConnected
from connectors.base import ClientChannel


def url_elicitation(exc: NotConnected, channel: ClientChannel) -> MCPError | None:
    """The -32042 error for a client that takes it, else None."""
    if not getattr(channel, "url_elicitation", False):
        return None
    elicitation = types.ElicitRequestURLParams(
        message=f"Connect your account at upstream '{exc.connector}' to continue.",
        url=exc.url,
        elicitation_id="connect-" + hashlib.sha256(exc.url.encode()).hexdigest()[:24],
    )
    return UrlElicitationRequiredError([elicitation], exc.message)


def connect_error(exc: NotConnected, channel: ClientChannel) -> MCPError:
    """For operations without an isError result: -32042 where taken, else -32603 with the link."""
    return url_elicitation(exc, channel) or MCPError(
        types.INTERNAL_ERROR, exc.message, {"connector": exc.connector, "connect_url": exc.url}
    )
