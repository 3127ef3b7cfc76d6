"""The admin API under /admin: its own token, pydantic-validated payloads, JSON errors."""

from broker.admin.errors import install_error_handlers
from broker.admin.routes import admin_router

__all__ = ["admin_router", "install_error_handlers"]
