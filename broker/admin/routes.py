"""All admin routers, mounted under /admin behind the admin token."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request

from broker.admin import (
    agents,
    apply,
    cache,
    changes,
    connectors,
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
for _area in (
    connectors,
    mcp_review,
    agents,
    policies,
    apply,
    observe,
    cache,
    secrets,
    llm_usage,
    llm,
    changes,
):
    admin_router.include_router(_area.router)


@admin_router.api_route(
    "/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False
)
async def unknown_endpoint(request: Request, path: str) -> None:
    """Answer unknown /admin paths in JSON too (otherwise the MCP app mounted at / would)."""
    await require_admin(request)
    raise NotFound(f"no admin endpoint {request.method} /admin/{path}; see /admin/docs")
