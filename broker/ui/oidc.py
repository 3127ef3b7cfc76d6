"""Single sign-on for the console: authorization code with PKCE at the gateway's identity provider.

The page makes the PKCE verifier and the state, sends the browser to the provider, and gets a
code back at /ui/. The gateway redeems the code (the provider's token endpoint needs no CORS and
the page's CSP allows no other origin), and hands the access token back in a response body:
the token is never in a URL. The admin API then checks it like any OIDC token (its role claim).
"""

from __future__ import annotations

from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse

from broker.admin.auth import gateway_of
from broker.errors import BrokerError, InvalidInput
from broker.identity.operators import sign_in_config

MAX_TOKEN_RESPONSE_BYTES = 64 * 1024
MAX_EXCHANGE_BYTES = 8 * 1024


class SignInUnavailable(BrokerError):
    status_code = 502
    code = "sign_in_unavailable"


class CodeExchange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=1, max_length=2048)
    code_verifier: str = Field(min_length=43, max_length=128, pattern=r"^[A-Za-z0-9\-._~]+$")


def redirect_uri(request: Request) -> str:
    return f"{gateway_of(request).settings.resolved_public_url}/ui/"


async def _endpoints(request: Request) -> dict[str, Any] | None:
    """The provider's endpoints as `GET /admin/sign-in` reports them; None without a console client."""
    gateway = gateway_of(request)
    if gateway.settings.console_client_id is None:
        return None
    config = await sign_in_config(gateway.oauth, gateway.settings)
    return config if config["enabled"] else None


async def sign_in_options(request: Request) -> dict[str, Any] | None:
    """What the page needs to start a sign-in, or None when the console has no OIDC client."""
    config = await _endpoints(request)
    if config is None:
        return None
    endpoint = config.get("authorization_endpoint")
    if not isinstance(endpoint, str) or not endpoint.startswith(("https://", "http://")):
        return {"error": f"the identity provider {config['issuer']} publishes no authorization endpoint"}
    return {
        "authorization_endpoint": endpoint,
        "client_id": gateway_of(request).settings.console_client_id,
        "redirect_uri": redirect_uri(request),
        "scope": " ".join(config["scopes"]),
        "resource": config["audience"],
    }


async def exchange_code(request: Request) -> JSONResponse:
    """POST /ui/oidc/token: redeem an authorization code (with its PKCE verifier) for an access token."""
    config = await _endpoints(request)
    if config is None:
        raise InvalidInput(
            "single sign-on is not configured: set BROKER_CONSOLE_CLIENT_ID and BROKER_OAUTH_ISSUERS"
        )
    body = await _read_exchange(request)
    endpoint = config.get("token_endpoint")
    if not isinstance(endpoint, str):
        raise SignInUnavailable(
            f"the identity provider {config['issuer']} cannot be reached or has no token endpoint"
        )
    form = {
        "grant_type": "authorization_code",
        "code": body.code,
        "code_verifier": body.code_verifier,
        "redirect_uri": redirect_uri(request),
        "client_id": gateway_of(request).settings.console_client_id,
        "resource": config["audience"],
    }
    try:
        async with httpx.AsyncClient(timeout=10.0, follow_redirects=False) as client:
            answer = await client.post(endpoint, data=form, headers={"Accept": "application/json"})
    except httpx.HTTPError as exc:
        raise SignInUnavailable(
            f"the identity provider's token endpoint failed: {type(exc).__name__}"
        ) from None
    document = _json(answer)
    token = document.get("access_token")
    if answer.status_code != 200 or not isinstance(token, str):
        reason = document.get("error_description") or document.get("error") or f"HTTP {answer.status_code}"
        raise InvalidInput(f"the identity provider refused the sign-in: {str(reason)[:200]}; sign in again")
    expires = document.get("expires_in")
    return JSONResponse(
        {"access_token": token, "expires_in": expires if isinstance(expires, int) else None},
        headers={"Cache-Control": "no-store"},
    )


async def _read_exchange(request: Request) -> CodeExchange:
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_EXCHANGE_BYTES:
            raise InvalidInput("send only the code and the code_verifier")
    try:
        return CodeExchange.model_validate_json(bytes(raw))
    except ValidationError:
        raise InvalidInput(
            'send {"code": ..., "code_verifier": ...} as JSON (the verifier: 43 to 128 URL-safe characters)'
        ) from None


def _json(response: httpx.Response) -> dict[str, Any]:
    if len(response.content) > MAX_TOKEN_RESPONSE_BYTES:
        return {}
    try:
        found = response.json()
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}
