"""Settings, read once from the environment (prefix BROKER_) and passed down.

Nothing else in the broker reads os.environ. The fields of each part of the gateway are in
`broker.settings.groups`; the checks that need more than a type in `broker.settings.checks`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import pydantic_settings
from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import SettingsConfigDict

from broker.settings.checks import SettingsError, check_database_url
from broker.settings.groups import (
    DEFAULT_ADMIN_ROLES,
    CacheSettings,
    IdentitySettings,
    ListenerSettings,
    LlmSettings,
    OpenAPISettings,
    OutboundSettings,
    PiiSettings,
)
from broker.suggest import did_you_mean

LOG_LEVELS = ("critical", "error", "warning", "info", "debug", "trace")


class Settings(
    ListenerSettings,
    OutboundSettings,
    LlmSettings,
    CacheSettings,
    PiiSettings,
    IdentitySettings,
    OpenAPISettings,
):
    model_config = SettingsConfigDict(env_prefix="BROKER_", extra="ignore")

    database_url: str = Field(
        default="sqlite:///broker.db",
        description="SQLAlchemy URL: a SQLite file by default; postgresql+psycopg://... for many instances.",
    )
    admin_token: SecretStr | None = Field(
        default=None,
        description="Bearer token for /admin. Without one the admin API answers 503 (never open by default).",
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    public_url: str | None = Field(
        default=None,
        description="The URL clients use to reach the gateway (the OAuth resource id); default http://host:port.",
    )
    allowed_hosts: list[str] = Field(
        default_factory=list,
        description="Extra Host values accepted on /mcp (DNS-rebinding guard), e.g. 'broker.example.com'.",
    )
    allowed_origins: list[str] = Field(
        default_factory=list, description="Extra browser Origins accepted on /mcp."
    )
    max_request_bytes: int = Field(
        default=1024 * 1024, gt=0, description="Largest MCP request body accepted."
    )
    mcp_fast_path: bool = Field(
        default=True,
        description="Answer stateless (2026-07-28) tools/call and tools/list before the framework and the "
        "SDK (broker/mcp/fastpath.py); off, the SDK serves every MCP request.",
    )
    auto_migrate: bool = Field(default=True, description="Apply database migrations when the gateway starts.")
    state_poll_seconds: float = Field(
        default=2.0, gt=0, description="How often an instance checks the database for changes made by others."
    )
    redis_channel: str = Field(
        default="broker:changes",
        min_length=1,
        description="Redis pub/sub channel on which instances announce changes to each other (with "
        "redis_url); gateways sharing one Redis but not one database need different channels.",
    )
    drain_seconds: float = Field(
        default=0.0,
        ge=0,
        description="On SIGTERM, answer /readyz with 503 but keep serving for this long before shutting "
        "down, so a load balancer stops sending new requests first (5-10 s behind one).",
    )
    breaker_failures: int = Field(
        default=5,
        ge=1,
        description="Consecutive failures or timeouts of an upstream (connector or LLM provider) that "
        "open its circuit breaker: calls then fail at once, and fallbacks skip it.",
    )
    breaker_open_seconds: float = Field(
        default=30.0, gt=0, description="How long an open breaker waits before one probe call goes through."
    )
    tool_retry_attempts: int = Field(
        default=3,
        ge=1,
        le=10,
        description="Tries in all for a tool annotated idempotent or read-only whose upstream timed out, "
        "could not be reached or answered 429/5xx (other tools are never retried).",
    )
    tool_retry_base_seconds: float = Field(
        default=0.2, ge=0, description="About the first tool retry's wait."
    )
    tool_retry_max_seconds: float = Field(
        default=2.0,
        ge=0,
        description="Longest wait before a tool retry; a longer Retry-After is not waited for.",
    )
    otlp_endpoint: str | None = Field(
        default=None,
        description="OpenTelemetry collector (OTLP/HTTP) base URL, e.g. http://collector:4318: spans per "
        "request and per pipeline stage are exported there. Unset: no tracing at all.",
    )
    audit_batch_size: int = Field(default=500, gt=0)
    audit_flush_seconds: float = Field(default=0.5, gt=0)
    audit_queue_limit: int = Field(
        default=100_000, gt=0, description="Records held in memory before calls wait."
    )
    audit_hash_key: SecretStr = Field(
        default=SecretStr("tool-broker-default-audit-key"),
        description="HMAC key for argument fingerprints in audit records; set your own in production.",
    )
    secret_keys: SecretStr | None = Field(
        default=None,
        description="Fernet keys for the secret store, comma-separated: the first encrypts, all decrypt "
        "(rotation). `broker secrets generate-key` makes one. Without a key no secret can be stored.",
    )
    secret_key_file: Path | None = Field(
        default=None, description="A file with the secret store's keys, one per line (or use secret_keys)."
    )
    secret_cache_seconds: float = Field(
        default=60.0,
        ge=0,
        description="How long a decrypted secret is kept in memory for calls; 0 reads it for every call.",
    )
    secret_last_used_seconds: float = Field(
        default=60.0, gt=0, description="How often secrets' last-use times are written to the database."
    )
    log_level: str = Field(default="info", description=f"One of {', '.join(LOG_LEVELS)}.")
    log_format: Literal["text", "json"] = Field(
        default="text",
        description="json: one JSON object per log line with the request id (also in the audit record, the "
        "ledger and the X-Request-Id reply header); messages are scrubbed of PII and secrets.",
    )

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, url: str) -> str:
        return check_database_url(url)

    @field_validator("redis_url")
    @classmethod
    def _check_redis_url(cls, url: str | None) -> str | None:
        if url is not None and not url.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or unix://, e.g. redis://127.0.0.1:6379/0")
        return url

    @field_validator("public_url")
    @classmethod
    def _check_public_url(cls, url: str | None) -> str | None:
        if url is not None and not url.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL, e.g. https://broker.example.com")
        return url

    @field_validator("log_level")
    @classmethod
    def _check_log_level(cls, level: str) -> str:
        if level.lower() not in LOG_LEVELS:
            raise ValueError(
                f"must be one of {', '.join(LOG_LEVELS)}{did_you_mean(level.lower(), LOG_LEVELS)}"
            )
        return level.lower()

    @property
    def resolved_public_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def resolved_audiences(self) -> list[str]:
        base = self.resolved_public_url
        return self.oauth_audiences or [base, f"{base}/mcp"]

    @property
    def sqlite_path(self) -> Path | None:
        prefix = "sqlite:///"
        if self.database_url.startswith(prefix) and self.database_url != "sqlite:///:memory:":
            return Path(self.database_url[len(prefix) :])
        return None


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment (and `overrides`); SettingsError with one line per bad value."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = []
        for error in exc.errors(include_url=False, include_input=False):
            name = "BROKER_" + "_".join(str(part) for part in error["loc"]).upper()
            lines.append(f"{name}: {error['msg'].removeprefix('Value error, ')}")
        raise SettingsError("; ".join(lines)) from None
    except pydantic_settings.SettingsError as exc:  # a list or mapping setting that is not JSON
        field = str(exc).split('"')[1] if '"' in str(exc) else "a setting"
        raise SettingsError(
            f'BROKER_{field.upper()}: must be JSON, e.g. ["a", "b"] for a list or {{"k": "v"}} for a mapping'
        ) from None


__all__ = [
    "DEFAULT_ADMIN_ROLES",
    "LOG_LEVELS",
    "Settings",
    "SettingsError",
    "check_database_url",
    "load_settings",
]
