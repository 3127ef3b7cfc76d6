"""The settings of each part of the gateway, one class a concern; `broker.settings.Settings`
puts them together (read from the environment with the prefix BROKER_)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode

from connectors.outbound import Outbound

DEFAULT_ADMIN_ROLES: dict[str, Literal["admin", "operator", "auditor"]] = {
    "broker-admin": "admin",
    "broker-operator": "operator",
    "broker-auditor": "auditor",
}


class ListenerSettings(BaseSettings):
    """The HTTP listener (broker/serving.py): slow and hostile clients are cut off."""

    http_header_timeout_seconds: float = Field(
        default=10.0, gt=0, description="A request's head must arrive within this many seconds; else 408."
    )
    http_body_timeout_seconds: float = Field(
        default=60.0, gt=0, description="A request's body must arrive within this many seconds of its head."
    )
    http_keep_alive_seconds: int = Field(
        default=5, gt=0, description="Idle keep-alive connections close after this."
    )
    http_max_connections: int = Field(
        default=1000,
        gt=0,
        description="Open connections and requests served at once; beyond it new requests get 503.",
    )
    http_max_head_bytes: int = Field(
        default=64 * 1024, ge=1024, description="Largest request line plus headers; beyond it 431."
    )
    metrics_token: SecretStr | None = Field(
        default=None,
        description="Bearer token /metrics asks for (Prometheus: `authorization: {credentials: ...}`). "
        "Unset: /metrics is open to whoever reaches its port.",
    )
    metrics_host: str = Field(default="127.0.0.1", description="Listen address of the metrics server.")
    metrics_port: int | None = Field(
        default=None,
        ge=0,
        le=65535,
        description="Serve /metrics on a server of its own at metrics_host:metrics_port instead of the "
        "gateway's port (which then answers 404 there).",
    )


class OutboundSettings(BaseSettings):
    """Outbound connections to upstreams (connectors and model providers): connectors/outbound.py."""

    https_proxy: SecretStr | None = Field(
        default=None,
        description="HTTP proxy (http://[user:password@]HOST:PORT) that tunnels every https:// upstream "
        "connection with CONNECT; a provider's own `proxy` overrides it. Unset: direct connections.",
    )
    no_proxy: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Hosts reached without the proxy, as a JSON list or comma-separated: 'example.com' (and "
        "its subdomains), '.example.com' (subdomains only), '10.0.0.0/8', '*'.",
    )
    ca_bundle: Path | None = Field(
        default=None,
        description="PEM file of CA certificates trusted for upstream TLS in addition to the public ones "
        "(a TLS-inspecting proxy's CA, an internal CA).",
    )

    @field_validator("no_proxy", mode="before")
    @classmethod
    def _comma_list(cls, value: object) -> object:
        if isinstance(value, str):
            text = value.strip()
            return (
                json.loads(text)
                if text.startswith("[")
                else [p.strip() for p in text.split(",") if p.strip()]
            )
        return value

    def outbound(self) -> Outbound:
        """The outbound network settings (connectors/outbound.py); OutboundConfigError names a bad one."""
        return Outbound(
            https_proxy=self.https_proxy.get_secret_value() or None if self.https_proxy else None,
            no_proxy=tuple(self.no_proxy),
            ca_bundle=self.ca_bundle,
        )


class LlmSettings(BaseSettings):
    """The LLM proxy (/v1)."""

    redis_url: str | None = Field(
        default=None,
        description="Redis URL (redis://host:6379/0). When set, budgets and rate limits are kept in Redis, "
        "shared by every instance; otherwise in each process.",
    )
    llm_fail_open: bool = Field(
        default=False,
        description="Serve model calls even when the usage ledger or Redis is unavailable (unmetered). "
        "By default such calls are refused with 503.",
    )
    llm_provider_keys: dict[str, SecretStr] = Field(
        default_factory=dict,
        description="Provider API keys by secret name, as a JSON object: for a provider's api_key_secret "
        "that the encrypted secret store does not hold (e.g. a key kept in the environment).",
    )
    llm_default_max_tokens: int = Field(
        default=4096, gt=0, description="Completion tokens reserved for a call that sets no max_tokens."
    )
    llm_tool_loop_max_steps: int = Field(
        default=8,
        ge=1,
        le=50,
        description="Model calls one tool loop (/v1 with the agent's MCP tools) may make before it "
        "must answer.",
    )
    llm_max_attempts: int = Field(
        default=4, ge=1, le=20, description="Upstream requests per model call (retries and fallbacks)."
    )
    llm_retry_base_seconds: float = Field(default=0.25, ge=0, description="About the first retry's wait.")
    llm_retry_max_seconds: float = Field(default=2.0, ge=0, description="Longest wait before one retry.")
    llm_max_request_bytes: int = Field(
        default=8 * 1024 * 1024,
        gt=0,
        description="Largest /v1 request body (413 beyond it, refused on Content-Length before reading). "
        "8 MiB holds a full 1M-token text context; raise it for many inline images (Anthropic accepts up "
        "to 32 MB, OpenAI 50 MB of image payload).",
    )
    llm_max_inflight_bytes: int = Field(
        default=64 * 1024 * 1024,
        gt=0,
        description="All /v1 request bodies held at once; a call beyond it gets 503 with Retry-After.",
    )
    llm_ledger_batch_size: int = Field(default=500, gt=0)
    llm_ledger_flush_seconds: float = Field(default=0.5, gt=0)
    llm_ledger_queue_limit: int = Field(
        default=100_000, gt=0, description="Unwritten ledger entries held before model calls fail closed."
    )


class CacheSettings(BaseSettings):
    """The tool-result cache (broker/cache)."""

    cache_backend: Literal["auto", "memory", "redis", "off"] = Field(
        default="auto",
        description="Where tool results are cached: auto (Redis when redis_url is set, else in process), "
        "memory, redis, or off.",
    )
    cache_default_ttl_seconds: float = Field(
        default=60.0,
        ge=0,
        description="TTL for tools annotated read-only and idempotent that no policy's cache section names; "
        "0 caches only what policies name.",
    )
    cache_max_entries: int = Field(default=10_000, gt=0, description="In-process cache: most entries kept.")
    cache_max_bytes: int = Field(
        default=64 * 1024 * 1024, gt=0, description="In-process cache: most bytes of results (JSON size)."
    )
    cache_max_entry_bytes: int = Field(
        default=1024 * 1024, gt=0, description="Results larger than this (JSON size) are not cached."
    )
    cache_lock_seconds: float = Field(
        default=10.0,
        gt=0,
        description="Redis: how long other instances wait for the one instance fetching a missed key "
        "before calling the upstream themselves.",
    )


class PiiSettings(BaseSettings):
    """PII masking (broker/pii, the MaskPII stage)."""

    pii_salt: SecretStr | None = Field(
        default=None,
        min_length=16,
        description="Key (16+ characters) for keyed hashes and token ids of masked PII; the same on every "
        "instance. Unset: derived from the first BROKER_SECRET_KEYS key (so it changes when that key is "
        "rotated). With neither, policies that hash or tokenise PII fail their calls with a clear error.",
    )
    pii_token_cache_entries: int = Field(
        default=100_000,
        gt=0,
        description="PII token values each instance keeps decrypted in memory, in front of the encrypted "
        "vault (the database, or Redis when redis_url is set).",
    )


class IdentitySettings(BaseSettings):
    """Identity (broker/identity): OAuth 2.1 access tokens beside agent keys, OIDC roles for /admin."""

    oauth_issuers: list[str] = Field(
        default_factory=list,
        description="Authorization servers (issuer URLs) whose access tokens the gateway accepts on /mcp, "
        "/v1 and /admin, as a JSON list. Named in the protected-resource metadata. Empty: agent keys only.",
    )
    oauth_audiences: list[str] = Field(
        default_factory=list,
        description="Audiences (RFC 8707 resources) a token must carry one of; default: the public URL "
        "and the public URL + /mcp.",
    )
    oauth_scopes: list[str] = Field(
        default_factory=list,
        description="Scopes a token must hold for /mcp and /v1 (advertised in the 401 challenge); a token "
        "without them gets 403 insufficient_scope.",
    )
    oauth_algorithms: list[str] = Field(
        default_factory=lambda: [
            "RS256",
            "RS384",
            "RS512",
            "PS256",
            "PS384",
            "PS512",
            "ES256",
            "ES384",
            "EdDSA",
        ],
        description="Signature algorithms accepted on JWT access tokens: asymmetric only (HS* and none are "
        "always refused).",
    )
    oauth_jwks_url: str | None = Field(
        default=None, description="The issuer's JWKS URL, when its metadata cannot be discovered."
    )
    oauth_introspection_url: str | None = Field(
        default=None,
        description="RFC 7662 endpoint for opaque (non-JWT) tokens; default: the issuer's advertised one.",
    )
    oauth_client_id: str | None = Field(
        default=None, description="The gateway's own client at the authorization server (introspection)."
    )
    oauth_client_secret: SecretStr | None = None
    oauth_clock_skew_seconds: int = Field(default=30, ge=0, le=300, description="Leeway on exp, nbf and iat.")
    oauth_jwks_refresh_seconds: float = Field(
        default=30.0,
        ge=0,
        description="Least time between two JWKS fetches of one issuer (an unknown kid triggers one).",
    )
    oauth_token_cache_entries: int = Field(
        default=10_000, gt=0, description="Verified tokens kept (by hash), each until it expires."
    )
    oauth_introspection_cache_seconds: float = Field(
        default=300.0, ge=0, description="Longest an introspection answer is reused (never past its exp)."
    )
    oauth_agent_claim: str = Field(
        default="client_id",
        description="Claim naming the agent (the client application); 'azp' is tried when it is absent.",
    )
    oauth_user_claim: str = Field(default="sub", description="Claim naming the end user.")
    oauth_team_claim: str | None = Field(
        default=None,
        description="Claim giving the team (e.g. 'groups'; a list gives its first entry); default: the "
        "agent's registered team.",
    )
    oauth_provision_agents: bool = Field(
        default=False,
        description="Create an agent (with no grants: default deny) for an unknown client on first use; "
        "otherwise such a token is refused with 403.",
    )
    connect_sign_in: bool = Field(
        default=True,
        description="Per-user grants: whoever opens a connect link signs in at the identity provider first "
        "(the gateway's client, BROKER_OAUTH_CLIENT_ID/_SECRET, redirect URI "
        "<public URL>/connect/signed-in), and must be the user the link was made for. Without that "
        "client no check is possible.",
    )
    admin_role_claim: str = Field(default="roles", description="Claim with the operator's roles for /admin.")
    admin_roles: dict[str, Literal["admin", "operator", "auditor"]] = Field(
        default_factory=lambda: dict(DEFAULT_ADMIN_ROLES),
        description="Role claim values to gateway roles, as a JSON object.",
    )
    gateway_signing_key_file: Path | None = Field(
        default=None,
        description="PEM private key (RSA or EC P-256) the gateway signs upstream assertions with "
        "(auth type gateway_jwt), the same on every instance; unset: a key per process.",
    )
    admin_cli_client_id: str | None = Field(
        default=None,
        description="The public OAuth client `broker login` uses (device authorization flow).",
    )
    console_client_id: str | None = Field(
        default=None,
        description="The public OAuth client the web console signs in with (authorization code with "
        "PKCE, at the first of BROKER_OAUTH_ISSUERS); register <public URL>/ui/ as its redirect URI.",
    )


class OpenAPISettings(BaseSettings):
    """OpenAPI import (connectors/http/openapi.py): bounds on what one document may cost."""

    openapi_max_bytes: int = Field(
        default=24 * 1024 * 1024,
        gt=0,
        description="Largest OpenAPI document imported (GitHub's is ~11 MB as JSON).",
    )
    openapi_max_operations: int = Field(
        default=2_000,
        gt=0,
        description="Most operations imported from one OpenAPI document (after include/exclude).",
    )
