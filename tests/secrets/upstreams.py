"""Real local upstreams for credential tests: a resource API that checks each kind of
credential, and an OAuth 2.0 token endpoint (client credentials) with its own API."""

from __future__ import annotations

import asyncio
import base64
import itertools
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse


@dataclass
class Accepted:
    """Credential value -> who it identifies, per way of sending it."""

    bearer: dict[str, str] = field(default_factory=dict)
    header: dict[str, str] = field(default_factory=dict)
    """Full header value (prefix included) of X-Api-Key."""
    query: dict[str, str] = field(default_factory=dict)
    basic: dict[tuple[str, str], str] = field(default_factory=dict)
    seen: list[dict[str, str]] = field(default_factory=list)
    """Authorization and X-Api-Key headers and the query of every request, in order."""


def _denied() -> JSONResponse:
    return JSONResponse({"message": "not authorized"}, 401, headers={"WWW-Authenticate": "Bearer"})


def create_resource_app(accepted: Accepted) -> FastAPI:
    app = FastAPI()

    @app.middleware("http")
    async def record(request: Request, call_next: Any) -> Any:
        accepted.seen.append(
            {
                "authorization": request.headers.get("authorization", ""),
                "x-api-key": request.headers.get("x-api-key", ""),
                "query": request.url.query,
            }
        )
        return await call_next(request)

    @app.get("/bearer")
    async def bearer(request: Request) -> Any:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        who = accepted.bearer.get(token) if scheme == "Bearer" else None
        return {"who": who} if who else _denied()

    @app.get("/header")
    async def header(request: Request) -> Any:
        who = accepted.header.get(request.headers.get("x-api-key", ""))
        return {"who": who} if who else _denied()

    @app.get("/query")
    async def query(request: Request) -> Any:
        keys = request.query_params.getlist("appid")
        who = accepted.query.get(keys[0]) if len(keys) == 1 else None
        return {"who": who, "city": request.query_params.get("city")} if who else _denied()

    @app.get("/basic")
    async def basic(request: Request) -> Any:
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        user, _, password = base64.b64decode(encoded or "Og==").decode().partition(":")
        who = accepted.basic.get((user, password)) if scheme == "Basic" else None
        return {"who": who} if who else _denied()

    @app.get("/reflect-error")
    async def reflect_error(request: Request) -> JSONResponse:
        """A careless upstream: its 500 echoes the credentials it was sent."""
        detail = (
            f"crashed handling Authorization={request.headers.get('authorization')} "
            f"X-Api-Key={request.headers.get('x-api-key')} url={request.url}"
        )
        return JSONResponse({"detail": detail}, 500)

    @app.get("/reflect")
    async def reflect(request: Request) -> dict[str, Any]:
        """A debugging endpoint that answers with the request it got."""
        return {"headers": dict(request.headers), "url": str(request.url)}

    return app


@dataclass
class TokenServer:
    """Issues tokens to registered clients and serves /api/whoami to holders of live tokens."""

    clients: dict[str, str] = field(default_factory=dict)
    """client_id -> client secret."""
    expires_in: int | None = 3600
    token_requests: list[dict[str, str]] = field(default_factory=list)
    api_requests: int = 0
    issued: dict[str, tuple[str, float | None]] = field(default_factory=dict)
    """token -> (client_id, expiry on time.monotonic)."""
    reject_all: bool = False
    """Make /api answer 401 whatever the token (a misconfigured upstream)."""
    delay_seconds: float = 0.0
    """How long the token endpoint takes to answer."""
    _counter: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def revoke_all(self) -> None:
        self.issued.clear()

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/oauth/token")
        async def token(request: Request) -> JSONResponse:
            await asyncio.sleep(self.delay_seconds)
            form = dict((await request.form()).items())
            client_id, secret = _client_credentials(request, form)
            self.token_requests.append({k: str(v) for k, v in form.items() if k != "client_secret"})
            if form.get("grant_type") != "client_credentials":
                return JSONResponse({"error": "unsupported_grant_type"}, 400)
            if client_id not in self.clients or not secrets.compare_digest(self.clients[client_id], secret):
                return JSONResponse(
                    {"error": "invalid_client", "error_description": f"bad secret {secret} for {client_id}"},
                    401,
                )
            value = f"tok-{next(self._counter)}-{secrets.token_hex(4)}"
            expires = time.monotonic() + self.expires_in if self.expires_in else None
            self.issued[value] = (client_id, expires)
            body: dict[str, Any] = {"access_token": value, "token_type": "Bearer"}
            if self.expires_in:
                body["expires_in"] = self.expires_in
            return JSONResponse(body, headers={"Cache-Control": "no-store"})

        @app.get("/api/whoami")
        async def whoami(request: Request) -> Any:
            self.api_requests += 1
            scheme, _, value = request.headers.get("authorization", "").partition(" ")
            found = self.issued.get(value) if scheme == "Bearer" and not self.reject_all else None
            if found is None or (found[1] is not None and found[1] < time.monotonic()):
                return _denied()
            return {"client": found[0]}

        return app


def _client_credentials(request: Request, form: dict[str, Any]) -> tuple[str, str]:
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme == "Basic":
        client_id, _, secret = base64.b64decode(encoded).decode().partition(":")
        return client_id, secret
    return str(form.get("client_id", "")), str(form.get("client_secret", ""))
