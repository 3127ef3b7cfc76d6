"""Who opens a connect link: before the upstream's authorization server, the browser signs
in at the gateway's own identity provider (authorization code with PKCE, the gateway's
client BROKER_OAUTH_CLIENT_ID/_SECRET, redirect URI `<public URL>/connect/signed-in`), and
the user it signs in as must be the one the link was made for. A link that leaked (into a
chat, a log, a phishing mail) then cannot bind someone else's upstream account to its user.
"""

from __future__ import annotations

from typing import Any

import httpx2
from authlib.integrations.base_client import OAuthError  # type: ignore[import-untyped]
from authlib.integrations.httpx_client import AsyncOAuth2Client  # type: ignore[import-untyped]

from broker.connections.errors import GrantRefused
from broker.connections.grants import Ticket, UserGrants
from broker.errors import BrokerError, UpstreamFailure
from broker.identity.discovery import DiscoveryError
from broker.identity.verifier import OAuthVerifier
from broker.settings import Settings

SIGNED_IN_PATH = "/connect/signed-in"
_KIND = "connect-sign-in"


class SignIn:
    def __init__(self, grants: UserGrants, oauth: OAuthVerifier, settings: Settings) -> None:
        assert settings.oauth_client_id is not None
        self._grants = grants
        self._oauth = oauth
        self._settings = settings
        self._client_id = settings.oauth_client_id
        secret = settings.oauth_client_secret
        self._secret = secret.get_secret_value() if secret is not None else None

    @classmethod
    def of(cls, grants: UserGrants, oauth: OAuthVerifier | None, settings: Settings) -> SignIn | None:
        """The check, when it is on and possible (an issuer and the gateway's client there)."""
        if not settings.connect_sign_in or oauth is None or settings.oauth_client_id is None:
            return None
        return cls(grants, oauth, settings)

    async def start(self, ticket: Ticket) -> str:
        """Where to send the browser to sign in, with a single-use state bound to the ticket."""
        metadata = await self._metadata()
        state, verifier = await self._grants.stash(ticket, _KIND)
        async with self._client() as client:
            url, _ = client.create_authorization_url(
                metadata["authorization_endpoint"],
                state=state,
                code_verifier=verifier,
                resource=self._grants.public_url,
            )
        return str(url)

    async def finish(self, state: str, code: str | None, error: str | None) -> Ticket:
        """The sign-in came back: the ticket, if the signed-in user is the link's user."""
        ticket, verifier = await self._grants.take(state, _KIND)
        if error is not None or not code:
            raise GrantRefused("you did not sign in, so nothing was connected; start again from the link")
        metadata = await self._metadata()
        try:
            async with self._client() as client:
                answer = await client.fetch_token(
                    metadata["token_endpoint"],
                    grant_type="authorization_code",
                    code=code,
                    code_verifier=verifier,
                )
        except OAuthError as exc:
            raise GrantRefused(f"the sign-in could not be completed ({str(exc.error)[:80]})") from None
        except (httpx2.HTTPError, OSError) as exc:
            raise UpstreamFailure(f"the identity provider cannot be reached ({type(exc).__name__})") from None
        token = answer.get("access_token") if isinstance(answer, dict) else None
        if not isinstance(token, str):
            raise GrantRefused("the identity provider answered without an access token")
        try:
            principal = await self._oauth.verify(token)
        except BrokerError as exc:
            raise GrantRefused(f"the sign-in did not give a token for this gateway: {exc.message}") from None
        if principal.claim(self._settings.oauth_user_claim) != ticket.end_user:
            raise GrantRefused(
                "you signed in as another user than the one this link was made for; nothing was connected "
                "(ask your own assistant for your own link)"
            )
        return ticket

    def _client(self) -> AsyncOAuth2Client:
        return AsyncOAuth2Client(
            client_id=self._client_id,
            client_secret=self._secret,
            token_endpoint_auth_method="client_secret_basic" if self._secret else "none",
            scope="openid",
            redirect_uri=self._grants.public_url + SIGNED_IN_PATH,
            code_challenge_method="S256",
            timeout=30.0,
            follow_redirects=False,
            trust_env=False,
        )

    async def _metadata(self) -> dict[str, Any]:
        try:
            metadata = await self._oauth.discovery.metadata(self._oauth.issuers[0])
        except DiscoveryError as exc:
            raise UpstreamFailure(f"the identity provider cannot be reached ({exc})") from None
        if not isinstance(metadata.get("authorization_endpoint"), str) or not isinstance(
            metadata.get("token_endpoint"), str
        ):
            raise GrantRefused("the identity provider publishes no authorization or token endpoint")
        return metadata
