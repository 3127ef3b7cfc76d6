"""How a connector authenticates to its upstream, with secrets it never stores.

A config names secrets of the broker's secret store; the broker resolves them for each call
and hands the clear values over in `CallContext.secrets`. Here they are put where the
upstream wants them at the last moment, and the forms an upstream may echo are returned
so every message can be cleaned of them.

    auth: {type: bearer, secret: crm-token}
    auth: {type: header, name: X-Api-Key, secret: weather-key, prefix: ""}
    auth: {type: query, name: appid, secret: owm-key}
    auth: {type: basic, username: reports, secret: reports-password}
    auth: {type: oauth2_client_credentials, token_url: https://login.example.com/oauth/token,
           client_id: broker, secret: crm-client-secret, scopes: [crm.read], audience: crm}
    auth: {type: gateway_jwt, audience: https://crm.internal}
    auth: {type: token_exchange, token_url: https://login.example.com/oauth/token, client_id: broker,
           secret: broker-client-secret, audience: crm}
    auth: {type: user_oauth, authorization_url: https://crm.example.com/oauth/authorize,
           token_url: https://crm.example.com/oauth/token, client_id: broker, secret: crm-client-secret,
           scopes: [crm.read]}

Each secret-based type takes `per_agent: {agent-name: other-secret}` to use another secret for
that agent. `gateway_jwt` needs no secret: the gateway signs a short-lived JWT naming the
agent, team, end user and tool for this upstream (its keys at /.well-known/jwks.json).
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, TypeAlias

import httpx
from pydantic import BaseModel, ConfigDict, Field, field_validator

from connectors._oauth import TOKENS, TokenCache, TokenRequest, fetch_token
from connectors.base import CallContext
from connectors.errors import ConnectorError
from connectors.fields import HttpUrl
from connectors.scrub import NO_SCRUB, Scrubber, scrubber

SECRET_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
"""Secret names: letters, digits, '_', '.', '-', starting with a letter or digit, at most 100."""

_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_UNSENDABLE = ("\r", "\n", "\0")

SecretName = Annotated[
    str,
    Field(
        pattern=SECRET_NAME.pattern,
        description="Name of a secret in the broker's secret store (`broker secrets add NAME`).",
    ),
]


class MissingCredential(ConnectorError):
    """A secret the call needs was not handed over: it is not in the store, or unreadable."""


def require_secret(context: CallContext, name: str, connector: str) -> str:
    """The clear value of secret `name` for this call, or MissingCredential naming the secret."""
    value = context.secrets.get(name)
    if not value:
        raise MissingCredential(
            f"upstream '{connector}' is not configured: the secret '{name}' it needs is missing from "
            "the gateway's secret store or cannot be read; ask an operator to add it "
            f"(`broker secrets add {name}`)"
        )
    return value


def fingerprint(values: Iterable[str]) -> str:
    """A digest of clear values, to tell whether a long-lived connection or process was
    opened with the credentials a call now brings (so it can be reopened after a rotation)."""
    return hashlib.sha256(json.dumps(sorted(values)).encode()).hexdigest()


class SecretRef(BaseModel):
    """A reference to a secret, with optional per-agent overrides; every auth type is one,
    and other connector kinds use it as is (e.g. `password: {secret: crm-db}`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    secret: SecretName
    per_agent: dict[str, SecretName] = Field(
        {}, description="Agent name -> secret name: that agent's calls use this secret instead."
    )

    def secret_refs(self) -> frozenset[str]:
        return frozenset({self.secret, *self.per_agent.values()})

    def secret_for(self, agent: str | None) -> str:
        return self.per_agent.get(agent, self.secret) if agent is not None else self.secret

    def value(self, context: CallContext, connector: str) -> str:
        """This call's clear value (the agent's own secret if it has one); MissingCredential if absent."""
        return require_secret(context, self.secret_for(context.agent), connector)


class BearerAuth(SecretRef):
    """`Authorization: Bearer <secret>`."""

    type: Literal["bearer"]


class HeaderAuth(SecretRef):
    """A header of your choice, e.g. `X-Api-Key: <prefix><secret>`."""

    type: Literal["header"]
    name: str = Field(description="Header name, e.g. X-Api-Key.")
    prefix: str = Field("", max_length=100, description="Text before the secret, e.g. 'Token '.")

    @field_validator("name")
    @classmethod
    def _check_name(cls, name: str) -> str:
        if not _HEADER_NAME.match(name):
            raise ValueError(f"{name!r} is not a valid header name")
        return name

    @field_validator("prefix")
    @classmethod
    def _check_prefix(cls, prefix: str) -> str:
        if any(ch in prefix for ch in _UNSENDABLE):
            raise ValueError("contains a line break or NUL")
        return prefix


class QueryAuth(SecretRef):
    """A query parameter, e.g. `?appid=<secret>`; it replaces an argument of the same name."""

    type: Literal["query"]
    name: str = Field(min_length=1, max_length=100, description="Query parameter name, e.g. appid.")


class BasicAuth(SecretRef):
    """HTTP Basic authentication with a fixed user name and the secret as password."""

    type: Literal["basic"]
    username: str = Field(min_length=1, max_length=200, description="User name (no ':').")

    @field_validator("username")
    @classmethod
    def _check_username(cls, username: str) -> str:
        if ":" in username or any(ch in username for ch in _UNSENDABLE):
            raise ValueError("must not contain ':', a line break or NUL")
        return username


class OAuth2ClientCredentials(SecretRef):
    """OAuth 2.0 client credentials: the secret is the client secret; the access token is
    fetched from `token_url`, cached until shortly before it expires, and sent as a bearer token."""

    type: Literal["oauth2_client_credentials"]
    token_url: HttpUrl
    client_id: str = Field(min_length=1, max_length=500)
    scopes: list[str] = Field([], description="Scopes to ask for.")
    audience: str | None = Field(None, description="`audience` parameter, for servers that want one.")
    client_auth: Literal["client_secret_basic", "client_secret_post"] = Field(
        "client_secret_basic", description="How the client authenticates to the token endpoint."
    )


class TokenExchange(OAuth2ClientCredentials):
    """OAuth 2.0 token exchange (RFC 8693) with the identity provider: the signed-in user's own
    access token is exchanged (the gateway authenticating as `client_id` with the secret) for
    one meant for this upstream, so the upstream sees that user and their rights. The caller's
    token itself never goes upstream. Agent keys carry no user: such calls are refused."""

    type: Literal["token_exchange"]  # type: ignore[assignment]
    resource: str | None = Field(None, description="`resource` parameter (RFC 8707), e.g. the upstream URL.")


class GatewayJwtAuth(BaseModel):
    """`Authorization: Bearer <JWT signed by the gateway>`: the upstream verifies it against the
    gateway's JWKS and learns who is calling (agent, team, end user, tool); no secret involved."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["gateway_jwt"]
    audience: str = Field(min_length=1, max_length=500, description="The `aud` the upstream expects.")
    header: str = Field("Authorization", description="Header to send it in (as 'Bearer <jwt>').")

    def secret_refs(self) -> frozenset[str]:
        return frozenset()


class UserOAuth(BaseModel):
    """Each end user's own OAuth grant at the upstream's authorization server, completed once
    through the gateway (authorization code with PKCE, a consent screen at the gateway, the
    gateway's callback as the exact redirect URI). `secret` is the gateway's client secret
    there; the tokens are stored encrypted per user, refreshed before they expire, and revocable
    by the user and by operators (broker/connections). Agent keys carry no user: refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["user_oauth"]
    authorization_url: HttpUrl = Field(description="The upstream authorization server's authorize endpoint.")
    token_url: HttpUrl = Field(description="Its token endpoint (code and refresh token grants).")
    client_id: str = Field(min_length=1, max_length=500, description="The gateway's client id there.")
    secret: SecretName | None = Field(
        None, description="Secret holding the gateway's client secret there (none: a public client)."
    )
    scopes: list[str] = Field([], description="Scopes to ask each user for.")
    client_auth: Literal["client_secret_basic", "client_secret_post"] = Field(
        "client_secret_basic", description="How the gateway authenticates to the token endpoint."
    )
    authorize_params: dict[str, str] = Field(
        {}, description="Further authorize request parameters, e.g. {audience: crm, access_type: offline}."
    )
    revocation_url: HttpUrl | None = Field(
        None, description="RFC 7009 revocation endpoint: a revoked connection's tokens are revoked there too."
    )

    def secret_refs(self) -> frozenset[str]:
        return frozenset({self.secret} if self.secret else ())


AuthConfig: TypeAlias = Annotated[
    BearerAuth
    | HeaderAuth
    | QueryAuth
    | BasicAuth
    | OAuth2ClientCredentials
    | TokenExchange
    | GatewayJwtAuth
    | UserOAuth,
    Field(discriminator="type", description="How the gateway authenticates to the upstream."),
]


@dataclass(frozen=True, slots=True)
class Credentials:
    """What one call sends: headers and query parameters, and the forms to scrub from text."""

    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    params: Mapping[str, str] = field(default_factory=dict, repr=False)
    scrub: Scrubber = field(default=NO_SCRUB, repr=False)
    token: str | None = field(default=None, repr=False)
    """The OAuth access token used, so a 401 drops exactly that one."""


NO_CREDENTIALS = Credentials()


def per_caller(config: object) -> bool:
    """Whether the upstream is reached with the calling user's own credential."""
    return isinstance(config, TokenExchange | GatewayJwtAuth | UserOAuth)


def user_token(context: CallContext, connector: str) -> str:
    """The signed-in user's own access token at this upstream (`user_oauth`), put in the
    context by the broker; MissingCredential when the call brings none."""
    if context.user_token is None:
        raise MissingCredential(
            f"upstream '{connector}' acts for the signed-in user with their own grant; this call "
            "brings none (sign in with your identity provider, not an agent key)"
        )
    return context.user_token


class HttpAuth:
    """Applies one connector's `auth` config to its requests."""

    def __init__(
        self, config: AuthConfig, connector: str, *, timeout: float, tokens: TokenCache = TOKENS
    ) -> None:
        self.config = config
        self.connector = connector
        self._refs = config.secret_refs()
        self._tokens = tokens
        self._grant = (
            TokenRequest(
                connector=connector,
                token_url=config.token_url,
                client_id=config.client_id,
                scopes=tuple(config.scopes),
                audience=config.audience,
                client_auth=config.client_auth,
                timeout=timeout,
                exchange=isinstance(config, TokenExchange),
                resource=config.resource if isinstance(config, TokenExchange) else None,
            )
            if isinstance(config, OAuth2ClientCredentials)
            else None
        )
        if isinstance(config, QueryAuth):
            _QUERY_FILTER.names.add(config.name)

    def secret_refs(self) -> frozenset[str]:
        return self._refs

    async def credentials(self, context: CallContext, client: httpx.AsyncClient) -> Credentials:
        """The credentials for this call. Raises MissingCredential, or a ConnectorError from
        the token endpoint."""
        config = self.config
        if isinstance(config, GatewayJwtAuth):
            if context.assertion is None:
                raise MissingCredential(
                    f"upstream '{self.connector}' wants the gateway's signed identity, which this call lacks"
                )
            token = context.assertion(config.audience)
            return Credentials({config.header: f"Bearer {token}"}, scrub=scrubber(token))
        if isinstance(config, UserOAuth):
            token = user_token(context, self.connector)
            return Credentials({"Authorization": f"Bearer {token}"}, scrub=scrubber(token), token=token)
        secret = config.value(context, self.connector)
        if isinstance(config, QueryAuth):
            return Credentials(params={config.name: secret}, scrub=scrubber(secret))
        self._check_sendable(secret, config.secret_for(context.agent))
        if isinstance(config, BearerAuth):
            return Credentials({"Authorization": f"Bearer {secret}"}, scrub=scrubber(secret))
        if isinstance(config, HeaderAuth):
            return Credentials({config.name: config.prefix + secret}, scrub=scrubber(secret))
        if isinstance(config, BasicAuth):
            basic = base64.b64encode(f"{config.username}:{secret}".encode()).decode()
            return Credentials({"Authorization": f"Basic {basic}"}, scrub=scrubber(secret, basic))
        return await self._oauth(secret, client, self._subject(context))

    async def renewed(
        self, used: Credentials, context: CallContext, client: httpx.AsyncClient
    ) -> Credentials | None:
        """After a 401: new credentials worth one retry (a fresh OAuth token), else None."""
        if isinstance(self.config, UserOAuth):
            if context.renew_user_token is None or used.token is None:
                return None
            token = await context.renew_user_token(used.token)
            return Credentials({"Authorization": f"Bearer {token}"}, scrub=scrubber(token), token=token)
        if self._grant is None or used.token is None or not isinstance(self.config, OAuth2ClientCredentials):
            return None
        secret = self.config.value(context, self.connector)
        subject = self._subject(context)
        self._tokens.drop(self._grant.cache_key(secret, subject), used.token)
        return await self._oauth(secret, client, subject)

    def _subject(self, context: CallContext) -> str | None:
        if not isinstance(self.config, TokenExchange):
            return None
        if context.subject_token is None:
            raise MissingCredential(
                f"upstream '{self.connector}' acts for the signed-in user: connect with your identity "
                "provider's sign-in (OAuth), not an agent key"
            )
        return context.subject_token

    async def _oauth(self, secret: str, client: httpx.AsyncClient, subject: str | None = None) -> Credentials:
        grant = self._grant
        assert grant is not None
        token = await self._tokens.token(
            grant.cache_key(secret, subject), lambda: fetch_token(client, grant, secret, subject)
        )
        return Credentials({"Authorization": f"Bearer {token}"}, scrub=scrubber(secret, token), token=token)

    def _check_sendable(self, secret: str, name: str) -> None:
        if any(ch in secret for ch in _UNSENDABLE):
            raise ConnectorError(
                f"upstream '{self.connector}' is misconfigured: the secret '{name}' contains a line "
                "break or NUL and cannot be sent in an HTTP header"
            )


class _QueryRedaction(logging.Filter):
    """httpx logs each request's URL at INFO: blank the values of query parameters that carry
    secrets (the names used by `type: query` auth configs)."""

    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if self.names and isinstance(record.args, tuple):
            record.args = tuple(self._redact(arg) for arg in record.args)
        return True

    def _redact(self, arg: Any) -> Any:
        if not isinstance(arg, httpx.URL) or not arg.query:
            return arg
        params = [(k, "***" if k in self.names else v) for k, v in arg.params.multi_items()]
        return arg.copy_with(params=params)


_QUERY_FILTER = _QueryRedaction()
logging.getLogger("httpx").addFilter(_QUERY_FILTER)
