"""Operators signing in with OIDC: what a sign-in needs to know, and a token to an `Actor`.

Used by the admin API (broker/admin/auth.py), `broker login`, and meant for the web console:
`sign_in_config` tells a client where to sign in, `operator` turns the access token it got
into an actor with a role (or refuses it).
"""

from __future__ import annotations

from typing import Any

from broker.errors import Forbidden
from broker.identity.discovery import DiscoveryError
from broker.identity.roles import Actor, actor_name, role_of
from broker.identity.verifier import OAuthVerifier
from broker.settings import Settings


async def operator(oauth: OAuthVerifier, settings: Settings, token: str) -> Actor:
    """The signed-in operator: InvalidToken (401) for a bad token, Forbidden (403) without a role."""
    principal = await oauth.verify(token)
    role = role_of(principal, settings.admin_role_claim, settings.admin_roles)
    if role is None:
        raise Forbidden(
            f"you are signed in, but your token's '{settings.admin_role_claim}' claim grants no gateway "
            f"role (one of {', '.join(sorted(settings.admin_roles))}); ask an administrator"
        )
    return Actor(actor_name(principal), role)


async def sign_in_config(oauth: OAuthVerifier | None, settings: Settings) -> dict[str, Any]:
    """Where an operator signs in: the issuer, its endpoints, the public client to use and the
    audience to ask for. `enabled: false` when no issuer is configured."""
    if oauth is None or not oauth.issuers:
        return {"enabled": False}
    issuer = oauth.issuers[0]
    config: dict[str, Any] = {
        "enabled": True,
        "issuer": issuer,
        "client_id": settings.admin_cli_client_id,
        "audience": settings.resolved_public_url,
        "scopes": ["openid", "profile", "email"],
        "role_claim": settings.admin_role_claim,
    }
    try:
        metadata = await oauth.discovery.metadata(issuer)
    except DiscoveryError:
        return config  # the client can still discover the issuer itself
    for name in ("authorization_endpoint", "token_endpoint", "device_authorization_endpoint"):
        if isinstance(metadata.get(name), str):
            config[name] = metadata[name]
    return config
