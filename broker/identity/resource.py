"""The gateway as an OAuth protected resource (RFC 9728, RFC 6750): its metadata document,
the `WWW-Authenticate` challenge, and the guard in front of the MCP endpoint."""

from __future__ import annotations

import json
from typing import Any

from mcp.server.auth.middleware.auth_context import AuthContextMiddleware
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from starlette.authentication import AuthCredentials
from starlette.types import ASGIApp, Receive, Scope, Send

from broker.catalog import AgentIdentity
from broker.errors import BrokerError, InsufficientScope, InvalidToken
from broker.identity.authenticator import Authenticator
from broker.identity.challenge import challenge

WELL_KNOWN = "/.well-known/oauth-protected-resource"
CALLER_CLAIM = "broker/caller"


def metadata_url(public_url: str, resource_path: str = "") -> str:
    """RFC 9728 §3.1: the well-known prefix goes before the resource's path."""
    return f"{public_url}{WELL_KNOWN}{resource_path}"


def resource_metadata(resource: str, issuers: list[str], scopes: list[str]) -> dict[str, Any]:
    document: dict[str, Any] = {
        "resource": resource,
        "bearer_methods_supported": ["header"],
        "resource_name": "tool-broker",
    }
    if issuers:
        document["authorization_servers"] = issuers
    if scopes:
        document["scopes_supported"] = scopes
    return document


def bearer(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() != "bearer":
                return None
            return token.strip() or None
    return None


class McpGuard:
    """Authenticates every request to /mcp before the SDK sees it.

    401 with the challenge when the token is missing or not valid, 403 `insufficient_scope`
    (with the scopes to ask for, so the client can step up) or 403 for a valid token whose
    client is not an agent here. The verified caller reaches the handlers as the SDK's
    `AccessToken` (`caller_of` gives the caller back).
    """

    def __init__(self, app: ASGIApp, authenticator: Authenticator, metadata: str, path: str = "/mcp") -> None:
        self.app = AuthContextMiddleware(app)
        self.authenticator = authenticator
        self.metadata = metadata
        self.path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].rstrip("/") != self.path:
            await self.app(scope, receive, send)
            return
        caller = await self.admit(scope, send)
        if caller is None:
            return
        scopes = self.authenticator.required_scopes
        scope["user"] = AuthenticatedUser(access_token(caller, token_scopes=scopes))
        scope["auth"] = AuthCredentials(scopes)
        await self.app(scope, receive, send)

    async def admit(self, scope: Scope, send: Send) -> AgentIdentity | None:
        """The request's caller, or None once the refusal (401/403 with the challenge) is sent.
        The MCP fast path (broker/mcp/fastpath.py) admits its requests here too."""
        token = bearer(scope)
        if token is None:
            await self._refuse(send, 401, "invalid_token", "Authentication required: send a bearer token")
            return None
        try:
            return await self.authenticator.caller(token)
        except InsufficientScope as exc:
            await self._refuse(send, 403, "insufficient_scope", exc.message, exc.scopes)
        except InvalidToken as exc:
            await self._refuse(send, 401, "invalid_token", exc.message)
        except BrokerError as exc:
            await self._refuse(send, exc.status_code, "access_denied", exc.message)
        return None

    async def _refuse(
        self, send: Send, status: int, error: str, description: str, scopes: list[str] | None = None
    ) -> None:
        wanted = scopes if scopes is not None else self.authenticator.required_scopes
        body = json.dumps({"error": error, "error_description": description}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"www-authenticate", challenge(self.metadata, wanted, error, description).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def access_token(caller: AgentIdentity, token_scopes: list[str]) -> AccessToken:
    """The SDK's view of a caller (the clear token is not kept)."""
    return AccessToken(
        token="",
        client_id=caller.name,
        scopes=token_scopes,
        subject=caller.end_user or caller.id,
        claims={CALLER_CLAIM: caller},
    )


def caller_of(token: AccessToken) -> AgentIdentity:
    caller = (token.claims or {}).get(CALLER_CLAIM)
    if not isinstance(caller, AgentIdentity):
        raise RuntimeError("the request did not pass through McpGuard")
    return caller
