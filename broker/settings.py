"""Settings, read once from the environment (prefix BROKER_) and passed down.

Nothing else in the broker reads os.environ.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import pydantic_settings
from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from broker.suggest import did_you_mean

_DATABASE_EXAMPLES = "postgresql+psycopg://user:password@host:5432/broker or sqlite:///broker.db"
LOG_LEVELS = ("critical", "error", "warning", "info", "debug", "trace")


class Settings(BaseSettings):
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
    auto_migrate: bool = Field(default=True, description="Apply database migrations when the gateway starts.")
    state_poll_seconds: float = Field(
        default=2.0, gt=0, description="How often an instance checks the database for changes made by others."
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

    # The LLM proxy (/v1).
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
    llm_max_attempts: int = Field(
        default=4, ge=1, le=20, description="Upstream requests per model call (retries and fallbacks)."
    )
    llm_retry_base_seconds: float = Field(default=0.25, ge=0, description="About the first retry's wait.")
    llm_retry_max_seconds: float = Field(default=2.0, ge=0, description="Longest wait before one retry.")
    llm_max_request_bytes: int = Field(default=32 * 1024 * 1024, gt=0, description="Largest /v1 body.")
    llm_ledger_batch_size: int = Field(default=500, gt=0)
    llm_ledger_flush_seconds: float = Field(default=0.5, gt=0)
    llm_ledger_queue_limit: int = Field(
        default=100_000, gt=0, description="Unwritten ledger entries held before model calls fail closed."
    )

    # The tool-result cache (broker/cache).
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

    # PII masking (broker/pii, the MaskPII stage).
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

    # OpenAPI import (connectors/http/openapi.py): bounds on what one document may cost.
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
    def sqlite_path(self) -> Path | None:
        prefix = "sqlite:///"
        if self.database_url.startswith(prefix) and self.database_url != "sqlite:///:memory:":
            return Path(self.database_url[len(prefix) :])
        return None


class SettingsError(ValueError):
    """The environment holds a setting the broker cannot use; the message names each one."""


def check_database_url(url: str) -> str:
    """A SQLAlchemy URL whose dialect and driver are installed; ValueError saying what to write."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ValueError(f"is not a database URL; write {_DATABASE_EXAMPLES}") from None
    if parsed.drivername in ("postgres", "postgresql", "postgresql+psycopg2"):
        raise ValueError(
            f"'{parsed.drivername}://' is not a driver the broker has; write {_DATABASE_EXAMPLES}"
        )
    try:
        parsed.get_dialect().import_dbapi()
    except (NoSuchModuleError, ImportError):
        raise ValueError(
            f"names the database driver '{parsed.drivername}', which is not installed; "
            f"write {_DATABASE_EXAMPLES}"
        ) from None
    if parsed.get_backend_name() != "sqlite" and not parsed.database:
        raise ValueError(f"names no database; write {_DATABASE_EXAMPLES}")
    return url


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
