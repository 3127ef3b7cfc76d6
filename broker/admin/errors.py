"""Maps the error tree to HTTP for the admin API: a JSON body that says what was wrong."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as SqlTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse

from broker.errors import BrokerError, Problem
from broker.telemetry.logs import correlation_ids

log = logging.getLogger("broker.admin")


def error_body(code: str, message: str, problems: list[Problem] | None = None) -> dict[str, object]:
    body: dict[str, object] = {"code": code, "message": message}
    if problems:
        body["problems"] = [p.as_dict() for p in problems]
    return {"error": {**body, **correlation_ids()}}


def _problem(error: Any) -> Problem:
    if error.get("type") == "json_invalid":  # FastAPI puts the character offset in loc
        detail = error.get("ctx", {}).get("error", "")
        return Problem(("body",), f"not valid JSON: {detail} (at character {error['loc'][-1]})")
    return Problem(tuple(error["loc"]), error["msg"])


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(BrokerError)
    async def broker_error(request: Request, exc: BrokerError) -> JSONResponse:
        gateway = getattr(request.app.state, "gateway", None)
        found = gateway.identity.challenge(exc) if gateway is not None else None
        challenge = found or ("Bearer" if exc.status_code == 401 else None)
        headers = {"WWW-Authenticate": challenge} if challenge else None
        return JSONResponse(error_body(exc.code, exc.message, exc.problems), exc.status_code, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [_problem(e) for e in exc.errors()]
        summary = "; ".join(str(p) for p in problems[:5])
        return JSONResponse(
            error_body("invalid_input", f"the request is not valid: {summary}", problems), 422
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(error_body(f"http_{exc.status_code}", str(exc.detail)), exc.status_code)

    @app.exception_handler(OperationalError)
    @app.exception_handler(InterfaceError)
    @app.exception_handler(SqlTimeout)
    async def database_unreachable(request: Request, exc: Exception) -> JSONResponse:
        orig = getattr(exc, "orig", None) or exc
        reason = (str(orig).strip().splitlines() or ["no reason given"])[0][:300]
        log.error("%s %s: the database is unreachable: %s", request.method, request.url.path, reason)
        message = f"the database is unreachable ({reason}); try again when it is back"
        return JSONResponse(error_body("database_unavailable", message), 503, headers={"Retry-After": "5"})

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return JSONResponse(error_body("internal_error", "the gateway failed unexpectedly; see its log"), 500)
