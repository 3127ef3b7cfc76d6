"""Settings, read once from the environment (prefix BROKER_) and passed down.

Nothing else in the broker reads os.environ.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


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
    port: int = 8000
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
    log_level: str = "info"

    @property
    def resolved_public_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def sqlite_path(self) -> Path | None:
        prefix = "sqlite:///"
        if self.database_url.startswith(prefix) and self.database_url != "sqlite:///:memory:":
            return Path(self.database_url[len(prefix) :])
        return None
