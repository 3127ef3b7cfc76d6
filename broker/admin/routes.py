"""All admin routers, mounted under /admin behind the admin token."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request

from broker.admin import (
    agents,
    apply,
    cache,
    changes,
    connections,
    connectors,
    insights,
    llm,
    llm_usage,
    mcp_review,
    observe,
    policies,
    secrets,
)
from broker.admin.auth import require_admin
from broker.errors import NotFound

admin_router = APIRouter(prefix="/admin")
_AREAS = (
    connectors,
    mcp_review,
    agents,
    policies,
    apply,
    insights,
    observe,
    cache,
    secrets,
    connections,
    llm_usage,
    llm,
    changes,
)
for _area in _AREAS:
    admin_router.include_router(_area.router)


@admin_router.api_route(
    "/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False
)
async def unknown_endpoint(request: Request, path: str) -> None:
    """Answer unknown /admin paths in JSON too (otherwise the MCP app mounted at / would)."""
    await require_admin(request)
    raise NotFound(f"no admin endpoint {request.method} /admin/{path}; see /admin/docs")
