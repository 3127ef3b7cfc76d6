"""The gateway as an OAuth client of an upstream's authorization server (authlib's httpx client),
and how that server's refusals and outages reach the user."""

from __future__ import annotations

from typing import Any

import httpx2
from authlib.integrations.base_client import OAuthError  # type: ignore[import-untyped]
from authlib.integrations.httpx_client import AsyncOAuth2Client  # type: ignore[import-untyped]

from broker.connections.errors import GrantRefused
from broker.errors import UpstreamFailure
from connectors.auth import UserOAuth
from connectors.netguard import outbound_transport2


def oauth_client(
    config: UserOAuth, secret: str | None, private: bool, redirect_uri: str
) -> AsyncOAuth2Client:
    """A client for the code flow with PKCE; a public client (no secret) authenticates with `none`."""
    return AsyncOAuth2Client(
        client_id=config.client_id,
        client_secret=secret,
        token_endpoint_auth_method=config.client_auth if secret else "none",
        scope=" ".join(config.scopes) or None,
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
        transport=outbound_transport2(private),
        timeout=30.0,
        follow_redirects=False,
        trust_env=False,
    )


async def ask(connector: str, request: Any, what: str) -> dict[str, Any]:
    """Await an authorization server's answer; a refusal is the user's to fix, an outage is not."""
    try:
        answer = await request
    except OAuthError as exc:
        raise GrantRefused(
            f"upstream '{connector}': the authorization server would not {what} ({str(exc.error)[:80]})"
        ) from None
    except (httpx2.HTTPError, OSError) as exc:
        raise UpstreamFailure(
            f"upstream '{connector}': its authorization server cannot be reached to {what} "
            f"({type(exc).__name__}); try again shortly"
        ) from None
    return dict(answer)
