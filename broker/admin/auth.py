from __future__ import annotations

import hmac

from starlette.requests import Request

from broker import keys
from broker.errors import NotConfigured, Unauthorized
from broker.gateway import Gateway


def gateway_of(request: Request) -> Gateway:
    gateway: Gateway = request.app.state.gateway
    return gateway


async def require_admin(request: Request) -> None:
    """The admin token only: an agent key never opens the admin API."""
    expected = gateway_of(request).settings.admin_token
    if expected is None:
        raise NotConfigured("the admin API is disabled: set BROKER_ADMIN_TOKEN and restart the gateway")
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("send the admin token as 'Authorization: Bearer <BROKER_ADMIN_TOKEN>'")
    if keys.looks_like_key(token):
        raise Unauthorized("agent keys cannot use the admin API; use the admin token")
    if not hmac.compare_digest(token.encode(), expected.get_secret_value().encode()):
        raise Unauthorized("the admin token is not valid")
