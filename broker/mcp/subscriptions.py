"""The seam for resources/subscribe and resources/unsubscribe.

The MCP face checks the caller may read the resource (the same Authorize rules as a read:
an unknown or hidden URI is -32602), then calls `subscribe_resource` / `unsubscribe_resource`
with the caller and the resolved connector and local URI. Delivering
`notifications/resources/updated` to the session (and subscribing upstream) belongs to the
session side (issue 9, h9b): these functions are where it plugs in. Until then a
subscription is accepted and nothing is delivered.
"""

from __future__ import annotations

from typing import Any

from mcp.server.context import ServerRequestContext

from broker.catalog import AgentIdentity


async def subscribe_resource(
    ctx: ServerRequestContext[Any], agent: AgentIdentity, uri: str, connector: str, local_uri: str
) -> None:
    """Remember that this session wants `notifications/resources/updated` for `uri`."""


async def unsubscribe_resource(
    ctx: ServerRequestContext[Any], agent: AgentIdentity, uri: str, connector: str, local_uri: str
) -> None:
    """Forget the session's subscription to `uri` (unknown ones are fine)."""
