"""Who may use /admin: the admin token (full rights), or an OIDC access token whose role
claim maps to admin, operator or auditor (broker/identity/roles.py). Agent keys never."""

from __future__ import annotations

import hmac

from starlette.requests import Request

from broker import keys
from broker.errors import Forbidden, NotConfigured, Unauthorized
from broker.gateway import Gateway
from broker.identity.operators import operator
from broker.identity.roles import Actor, permits

INTERNAL_READ = "broker.internal_read"
"""Scope key set by the change log for its own before/after reads (never from a client)."""


def gateway_of(request: Request) -> Gateway:
    gateway: Gateway = request.app.state.gateway
    return gateway


async def require_admin(request: Request) -> Actor:
    """The caller's identity and role, refused (401/403) unless the role permits this request."""
    if request.scope.get(INTERNAL_READ):
        return Actor("gateway", "auditor")
    gateway = gateway_of(request)
    settings = gateway.settings
    expected, oauth = settings.admin_token, gateway.oauth
    if expected is None and oauth is None:
        raise NotConfigured(
            "the admin API is disabled: set BROKER_ADMIN_TOKEN (or BROKER_OAUTH_ISSUERS for OIDC sign-in) "
            "and restart the gateway"
        )
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("send the admin token or an OIDC access token as 'Authorization: Bearer <token>'")
    if keys.looks_like_key(token):
        raise Unauthorized(
            "agent keys cannot use the admin API; use the admin token or sign in (`broker login`)"
        )
    if expected is not None and hmac.compare_digest(token.encode(), expected.get_secret_value().encode()):
        actor = Actor("admin-token", "admin")
    elif oauth is None:
        raise Unauthorized("the admin token is not valid")
    else:
        actor = await operator(oauth, settings, token)
    request.state.admin_actor = actor
    if not permits(actor.role, request.method, request.url.path):
        raise Forbidden(f"the {actor.role} role may not {request.method} {request.url.path}")
    return actor
