"""A small OAuth 2.1 authorization server on loopback, with its own RSA key: the identity
provider the gateway trusts in these tests (the network edge, not our code).

It serves RFC 8414 metadata, a JWKS, dynamic client registration, the authorization code
grant with PKCE (S256, exact redirect URI, single-use codes; the "user" is whoever the test
says is signed in), client credentials, the device authorization grant, refresh tokens and
RFC 7662 introspection for the opaque tokens it can also issue.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route


@dataclass
class Client:
    client_id: str
    secret: str | None
    redirect_uris: list[str]
    claims: dict[str, Any] = field(default_factory=dict)


@dataclass
class AuthServer:
    issuer: str = ""
    key: RSAKey = field(default_factory=lambda: RSAKey.generate_key(2048, parameters={"kid": "as-key-1"}))
    audience: str = ""
    """The `aud` of tokens when the client names no `resource`."""
    user: dict[str, Any] = field(default_factory=lambda: {"sub": "alice", "email": "alice@example.com"})
    """The signed-in user who approves authorization requests."""
    clients: dict[str, Client] = field(default_factory=dict)
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    devices: dict[str, dict[str, Any]] = field(default_factory=dict)
    opaque: dict[str, dict[str, Any]] = field(default_factory=dict)
    refresh: dict[str, dict[str, Any]] = field(default_factory=dict)
    jwks_fetches: int = 0
    exchanges: int = 0
    issue_opaque: bool = False
    revoked: list[str] = field(default_factory=list)
    """Token type hints of RFC 7009 revocations, in order (never the tokens)."""
    lifetime: int = 300
    """`expires_in` of the tokens it issues."""
    refreshes: int = 0

    # --- helpers for tests ------------------------------------------------------------------

    def register(self, client_id: str, secret: str | None = None, **claims: Any) -> Client:
        client = Client(client_id, secret, [], claims)
        self.clients[client_id] = client
        return client

    def sign(self, claims: dict[str, Any], *, header: dict[str, Any] | None = None, key: Any = None) -> str:
        return jwt.encode(header or {"alg": "RS256", "kid": self.key.kid}, claims, key or self.key)

    def token_claims(self, **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.audience,
            "iat": now,
            "exp": now + 300,
            "jti": secrets.token_hex(8),
        }
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not None}

    def access_token(self, **overrides: Any) -> str:
        claims = self.token_claims(**overrides)
        if self.issue_opaque:
            token = secrets.token_urlsafe(24)
            self.opaque[token] = claims
            return token
        return self.sign(claims)

    def approve_device(self, user_code: str, user: dict[str, Any]) -> None:
        for device in self.devices.values():
            if device["user_code"] == user_code:
                device["user"] = user

    # --- the app ------------------------------------------------------------------------------

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/.well-known/oauth-authorization-server", self._metadata),
                Route("/.well-known/openid-configuration", self._metadata),
                Route("/jwks", self._jwks),
                Route("/register", self._register, methods=["POST"]),
                Route("/authorize", self._authorize),
                Route("/token", self._token, methods=["POST"]),
                Route("/introspect", self._introspect, methods=["POST"]),
                Route("/device", self._device, methods=["POST"]),
                Route("/revoke", self._revoke, methods=["POST"]),
            ]
        )

    async def _metadata(self, _: Request) -> Response:
        base = self.issuer
        return JSONResponse(
            {
                "issuer": base,
                "authorization_endpoint": f"{base}/authorize",
                "token_endpoint": f"{base}/token",
                "registration_endpoint": f"{base}/register",
                "jwks_uri": f"{base}/jwks",
                "introspection_endpoint": f"{base}/introspect",
                "device_authorization_endpoint": f"{base}/device",
                "response_types_supported": ["code"],
                "grant_types_supported": [
                    "authorization_code",
                    "refresh_token",
                    "client_credentials",
                    "urn:ietf:params:oauth:grant-type:device_code",
                ],
                "code_challenge_methods_supported": ["S256"],
                "token_endpoint_auth_methods_supported": [
                    "none",
                    "client_secret_post",
                    "client_secret_basic",
                ],
            }
        )

    async def _jwks(self, _: Request) -> Response:
        self.jwks_fetches += 1
        return JSONResponse(KeySet([self.key]).as_dict(private=False))

    async def _register(self, request: Request) -> Response:
        body = await request.json()
        client = Client(f"dyn-{secrets.token_hex(4)}", None, list(body.get("redirect_uris") or []))
        self.clients[client.client_id] = client
        return JSONResponse(
            {**body, "client_id": client.client_id, "token_endpoint_auth_method": "none"}, status_code=201
        )

    async def _authorize(self, request: Request) -> Response:
        q = request.query_params
        client = self.clients.get(q.get("client_id", ""))
        if client is None or q.get("redirect_uri") not in client.redirect_uris:
            return JSONResponse({"error": "invalid_request"}, status_code=400)
        if q.get("code_challenge_method") != "S256" or not q.get("code_challenge"):
            return JSONResponse({"error": "invalid_request", "error_description": "PKCE S256 required"}, 400)
        code = secrets.token_urlsafe(16)
        self.codes[code] = {
            "client_id": client.client_id,
            "redirect_uri": q["redirect_uri"],
            "challenge": q["code_challenge"],
            "resource": q.get("resource"),
            "scope": q.get("scope"),
            "user": dict(self.user),
        }
        return RedirectResponse(
            f"{q['redirect_uri']}?{urlencode({'code': code, 'state': q.get('state', '')})}"
        )

    async def _token(self, request: Request) -> Response:
        form = dict(await request.form())
        grant = form.get("grant_type")
        if grant == "authorization_code":
            found = self.codes.pop(str(form.get("code")), None)
            if (
                found is None
                or found["redirect_uri"] != form.get("redirect_uri")
                or create_s256_code_challenge(str(form.get("code_verifier", ""))) != found["challenge"]
            ):
                return JSONResponse({"error": "invalid_grant"}, status_code=400)
            claims = {**found["user"], "client_id": found["client_id"], "scope": found["scope"]}
            if found["resource"]:
                claims["aud"] = found["resource"]
            return self._tokens(claims)
        if grant == "client_credentials":
            client = self._client_auth(request, form)
            if client is None:
                return JSONResponse({"error": "invalid_client"}, status_code=401)
            claims = {"sub": client.client_id, "client_id": client.client_id, **client.claims}
            if form.get("resource"):
                claims["aud"] = form["resource"]
            return self._tokens(claims, refresh=False)
        if grant == "refresh_token":
            self.refreshes += 1
            found = self.refresh.pop(str(form.get("refresh_token")), None)
            if found is None:
                return JSONResponse({"error": "invalid_grant"}, status_code=400)
            return self._tokens(found)
        if grant == "urn:ietf:params:oauth:grant-type:device_code":
            device = self.devices.get(str(form.get("device_code")))
            if device is None:
                return JSONResponse({"error": "invalid_grant"}, status_code=400)
            if device.get("user") is None:
                return JSONResponse({"error": "authorization_pending"}, status_code=400)
            self.devices.pop(str(form.get("device_code")))
            claims = {**device["user"], "client_id": device["client_id"], "scope": device.get("scope")}
            return self._tokens(claims)
        if grant == "urn:ietf:params:oauth:grant-type:token-exchange":
            client = self._client_auth(request, form)
            if client is None:
                return JSONResponse({"error": "invalid_client"}, status_code=401)
            try:
                subject = jwt.decode(str(form.get("subject_token")), self.key).claims
            except Exception:
                return JSONResponse({"error": "invalid_grant", "error_description": "bad subject token"}, 400)
            if subject.get("exp", 0) < time.time():
                return JSONResponse({"error": "invalid_grant", "error_description": "expired"}, 400)
            self.exchanges += 1
            claims = {
                "sub": subject["sub"],
                "client_id": client.client_id,
                "aud": form.get("audience") or form.get("resource"),
                "scope": form.get("scope"),
                "act": {"sub": client.client_id},
            }
            body = self._tokens(claims, refresh=False)
            return body
        return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)

    def _tokens(self, claims: dict[str, Any], refresh: bool = True) -> Response:
        body: dict[str, Any] = {
            "access_token": self.access_token(**claims),
            "token_type": "Bearer",
            "expires_in": self.lifetime,
        }
        if claims.get("scope"):
            body["scope"] = claims["scope"]
        if refresh:
            refresh_token = secrets.token_urlsafe(16)
            self.refresh[refresh_token] = claims
            body["refresh_token"] = refresh_token
        return JSONResponse(body, headers={"Cache-Control": "no-store"})

    def _client_auth(self, request: Request, form: dict[str, Any]) -> Client | None:
        import base64

        client_id, secret = form.get("client_id"), form.get("client_secret")
        header = request.headers.get("authorization", "")
        if header.lower().startswith("basic "):
            client_id, _, secret = base64.b64decode(header[6:]).decode().partition(":")
        client = self.clients.get(str(client_id))
        if client is None or client.secret is None or not secrets.compare_digest(client.secret, str(secret)):
            return None
        return client

    async def _introspect(self, request: Request) -> Response:
        form = dict(await request.form())
        if self._client_auth(request, form) is None:
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        claims = self.opaque.get(str(form.get("token")))
        if claims is None or claims["exp"] < time.time():
            return JSONResponse({"active": False})
        return JSONResponse({"active": True, **claims})

    async def _revoke(self, request: Request) -> Response:
        form = dict(await request.form())
        if self._client_auth(request, form) is None:
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        self.refresh.pop(str(form.get("token")), None)
        self.revoked.append(str(form.get("token_type_hint")))
        return Response(status_code=200)

    async def _device(self, request: Request) -> Response:
        form = dict(await request.form())
        device_code, user_code = secrets.token_urlsafe(16), secrets.token_hex(3).upper()
        self.devices[device_code] = {
            "client_id": form.get("client_id"),
            "scope": form.get("scope"),
            "user_code": user_code,
            "user": None,
        }
        return JSONResponse(
            {
                "device_code": device_code,
                "user_code": user_code,
                "verification_uri": f"{self.issuer}/activate",
                "verification_uri_complete": f"{self.issuer}/activate?user_code={user_code}",
                "expires_in": 600,
                "interval": 1,
            }
        )
