"""/admin/connections: end users' grants at upstreams (`auth: {type: user_oauth}`). Auditors
list them, operators revoke them; nobody reads a token (no response carries one)."""

from __future__ import annotations

from datetime import datetime

from fastapi import Path, Query
from pydantic import BaseModel, ConfigDict
from starlette.requests import Request
from starlette.responses import Response

from broker.admin.auth import gateway_of
from broker.admin.runtime import admin_subrouter
from broker.connections.web import revoke
from broker.errors import NotFound
from connectors.base import CONNECTOR_NAME

router = admin_subrouter("connections")


class ConnectionInfo(BaseModel):
    """One user's grant at one upstream, as the API shows it: never a token."""

    model_config = ConfigDict(extra="forbid")

    connector: str
    user: str
    agent: str
    status: str
    scopes: list[str]
    expires_at: datetime | None
    connected_at: datetime
    updated_at: datetime


@router.get("/connections", response_model=list[ConnectionInfo], summary="Users' grants at upstreams")
async def list_connections(
    request: Request,
    connector: str | None = Query(None, pattern=CONNECTOR_NAME.pattern),
    user: str | None = Query(None, max_length=255),
) -> list[ConnectionInfo]:
    listed = await gateway_of(request).grants.connections(connector, user)
    return [ConnectionInfo(**item) for item in listed]


@router.delete("/connections/{connector}/{user:path}", status_code=204, summary="Revoke a user's grant")
async def revoke_connection(
    request: Request, connector: str = Path(pattern=CONNECTOR_NAME.pattern), user: str = Path(max_length=255)
) -> Response:
    if not await revoke(gateway_of(request), connector, user):
        raise NotFound(f"user '{user[:100]}' has no connection to '{connector}'")
    return Response(status_code=204)
