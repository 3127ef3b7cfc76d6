"""What every admin endpoint shares: the admin-token check before anything else, a body
size limit, and running service functions on the database in a worker thread."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Any, TypeVar, overload

from fastapi import APIRouter, Depends
from fastapi.routing import APIRoute
from fastapi.security import HTTPBearer
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from broker import jsonbody
from broker.admin.auth import gateway_of, require_admin
from broker.errors import BrokerError

T = TypeVar("T")

MAX_BODY_BYTES = 32 * 1024 * 1024
"""Largest admin request body: room for a combined document with inlined OpenAPI specs."""

_bearer = HTTPBearer(
    auto_error=False, description="The admin token (BROKER_ADMIN_TOKEN); agent keys are refused."
)


class PayloadTooLarge(BrokerError):
    status_code = 413
    code = "payload_too_large"


class UnsupportedMediaType(BrokerError):
    status_code = 415
    code = "unsupported_media_type"


JSON_MEDIA_TYPE = "application/json"


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def is_json(media: str) -> bool:
    return media in ("", JSON_MEDIA_TYPE) or media.endswith("+json")


class _LimitedRequest(Request):
    """A request whose body is read at most up to MAX_BODY_BYTES (Starlette caches it in `_body`)."""

    async def body(self) -> bytes:
        if not hasattr(self, "_body"):
            declared = self.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
                raise _too_large()
            chunks, size = [], 0
            async for chunk in self.stream():
                size += len(chunk)
                if size > MAX_BODY_BYTES:
                    raise _too_large()
                chunks.append(chunk)
            self._body = b"".join(chunks)
        return self._body


def _too_large() -> PayloadTooLarge:
    return PayloadTooLarge(f"the request body is larger than {MAX_BODY_BYTES // (1024 * 1024)} MiB")


class AdminRoute(APIRoute):
    """Checks the admin token, then reads the body within the size limit, before FastAPI
    parses or validates anything: a caller without the token learns nothing about payloads,
    and errors stay JSON (a limit inside FastAPI's parsing would surface as a 400)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            await require_admin(request)
            limited = _LimitedRequest(request.scope, request.receive)
            if request.method in ("POST", "PUT", "PATCH"):
                body = await limited.body()
                if self.body_field is not None and body and not is_json(media_type(request)):
                    raise UnsupportedMediaType(f"send this request as {JSON_MEDIA_TYPE}")
                if self.body_field is not None and is_json(media_type(request)):
                    jsonbody.check_depth(body)  # documents are checked as they are parsed, off the loop
            return await handler(limited)

        return guarded


def admin_subrouter(tag: str) -> APIRouter:
    """A router for one area of the admin API; `_bearer` documents the security scheme."""
    return APIRouter(tags=[tag], route_class=AdminRoute, dependencies=[Depends(_bearer)])


async def read(request: Request, operation: Callable[[Session], T]) -> T:
    """Run a read-only operation in a worker thread."""
    sessions = gateway_of(request).sessions

    def run() -> T:
        with sessions() as session:
            return operation(session)

    return await run_in_threadpool(run)


async def write(request: Request, operation: Callable[[Session], T]) -> T:
    """Run an operation in one transaction in a worker thread, then refresh the live
    catalog so the change is in force on /mcp before the response is sent, and tell the
    other instances (they read the new revision from the database)."""
    gateway = gateway_of(request)

    def run() -> T:
        with gateway.sessions.begin() as session:
            return operation(session)

    result = await run_in_threadpool(run)
    snapshot = await gateway.state.refresh()
    await gateway.bus.publish_revision(snapshot.revision)
    return result


@overload
def utc(value: datetime) -> datetime: ...
@overload
def utc(value: None) -> None: ...
@overload
def utc(value: datetime | None) -> datetime | None: ...
def utc(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; every stored time is UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)
