"""All admin routers, mounted under /admin behind the admin token."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from broker.admin.auth import require_admin

admin_router = APIRouter(prefix="/admin", dependencies=[Depends(require_admin)])
