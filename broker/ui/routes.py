"""Routes for /ui (the console) and /admin/docs (Swagger UI), with a strict Content-Security-Policy."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from broker.admin.llm_usage import GROUPS
from broker.admin.policies import ExplainRequest
from broker.ui import oidc
from broker.ui.oidc import sign_in_options

STATIC = Path(str(files("broker.ui") / "static"))
SWAGGER = Path(str(files("fastapi_offline") / "static"))

CONSOLE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
DOCS_CSP = (  # Swagger UI sets style attributes from script and draws icons from data: URLs
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}
TIME_DIMENSIONS = {"day", "hour"}
USAGE_DIMENSIONS = [g for g in GROUPS if g not in TIME_DIMENSIONS and g not in ("endpoint", "status")]


class _Static(StaticFiles):
    """Static files with the console's security headers (and revalidated, not cached blindly)."""

    def __init__(self, directory: Path, csp: str) -> None:
        super().__init__(directory=directory)
        self._headers = {**SECURITY_HEADERS, "Content-Security-Policy": csp, "Cache-Control": "no-cache"}

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers.update(self._headers)
        return response


def _page(name: str, csp: str) -> FileResponse:
    return FileResponse(STATIC / name, headers={**SECURITY_HEADERS, "Content-Security-Policy": csp})


async def console_config(request: Request) -> dict[str, Any]:
    """What this gateway's console can show; the page adapts to it.

    `usage_dimensions` follows the ledger's groupings (`user`: the end user an agent acted
    for). `explain` lists what /admin/policies/explain can be asked about. The token field
    takes the admin token or an OIDC access token with a gateway role (the admin API checks
    either). `sign_in.oidc` is what the page needs for single sign-on (authorization code with
    PKCE, `broker/ui/oidc.py`), null without BROKER_CONSOLE_CLIENT_ID.
    """
    explain = [kind for kind in ("tool", "resource", "prompt") if kind in ExplainRequest.model_fields]
    return {
        "usage_dimensions": USAGE_DIMENSIONS,
        "explain": explain,
        "sign_in": {"token": True, "oidc": await sign_in_options(request)},
    }


def install_console(app: FastAPI) -> None:
    """Add /ui and /admin/docs; call before the admin router (its catch-all answers /admin/*)."""

    @app.get("/ui", include_in_schema=False)
    async def ui_root() -> RedirectResponse:
        return RedirectResponse("/ui/", status_code=308)

    @app.get("/ui/", include_in_schema=False)
    async def ui_index() -> FileResponse:
        return _page("index.html", CONSOLE_CSP)

    @app.get("/ui/config.json", include_in_schema=False)
    async def ui_config(request: Request) -> JSONResponse:
        return JSONResponse(await console_config(request), headers=SECURITY_HEADERS)

    app.add_api_route("/ui/oidc/token", oidc.exchange_code, methods=["POST"], include_in_schema=False)

    @app.get("/admin/docs", include_in_schema=False)
    async def admin_docs(_: Request) -> FileResponse:
        return _page("docs.html", DOCS_CSP)

    app.mount("/ui/static", _Static(STATIC, CONSOLE_CSP), name="ui-static")
    app.mount("/ui/swagger", _Static(SWAGGER, DOCS_CSP), name="ui-swagger")
