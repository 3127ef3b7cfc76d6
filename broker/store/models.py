"""The database schema. Migrations in migrations/ must match these models."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class Agent(Base):
    __tablename__ = "agents"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    team: Mapped[str | None] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(Text, default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    keys: Mapped[list[ApiKey]] = relationship(
        back_populates="agent", cascade="all, delete-orphan", passive_deletes=True
    )


class ApiKey(Base):
    """An agent's API key. Only the SHA-256 of the key is stored; `prefix` identifies it in lists."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    agent_id: Mapped[str] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(32))
    label: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    agent: Mapped[Agent] = relationship(back_populates="keys")


class ConnectorRecord(Base):
    """A registered connector: its prepared configuration (no network needed to rebuild it)."""

    __tablename__ = "connectors"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    config: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class PolicyRevision(Base):
    """One version of the whole policy set. The highest revision is in force."""

    __tablename__ = "policy_revisions"

    revision: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    policies: Mapped[list[Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    source: Mapped[str] = mapped_column(String(200), default="")


class StateRevision(Base):
    """A single counter bumped by every admin change, so other instances know to reload."""

    __tablename__ = "state_revision"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    revision: Mapped[int] = mapped_column(BigInteger, default=0)


class AuditRecord(Base):
    __tablename__ = "audit_records"
    __table_args__ = (
        Index("ix_audit_agent_ts", "agent", "ts"),
        Index("ix_audit_tool_ts", "tool", "ts"),
        Index("ix_audit_end_user_ts", "end_user", "ts"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    ts: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    request_id: Mapped[str] = mapped_column(String(36))
    agent: Mapped[str] = mapped_column(String(64))
    team: Mapped[str | None] = mapped_column(String(64))
    tool: Mapped[str] = mapped_column(String(200))
    decision: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    outcome: Mapped[str] = mapped_column(String(32))
    error: Mapped[str | None] = mapped_column(Text)
    latency_ms: Mapped[float] = mapped_column(Float)
    arguments_hash: Mapped[str | None] = mapped_column(String(64))
    argument_names: Mapped[list[Any]] = mapped_column(JSON)
    policy_revision: Mapped[int] = mapped_column(Integer)
    masked: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    """Entities masked in the result, by type: {"EMAIL_ADDRESS": 3}; null when none."""
    cache: Mapped[str | None] = mapped_column(String(16))
    flags: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    """What the result carried that deserves a look (instructions aimed at the model: score, signals)."""
    """hit, miss, bypass, uncacheable or coalesced (broker.cache); null when the call never got there."""
    end_user: Mapped[str | None] = mapped_column(String(200))
    trace_id: Mapped[str | None] = mapped_column(String(32))
    """The end user the agent acted for (an OAuth token's subject); null for agent keys."""
    operation: Mapped[str] = mapped_column(String(32), default="tools/call", server_default="tools/call")
    """The MCP method: tools/call, resources/read, prompts/get or completion/complete; `tool` holds
    its target (a tool or prompt name, a resource URI)."""


class PiiTokenChunk(Base):
    """Reversible PII tokens' values, for one agent only: the pieces one write of the token vault
    stored together, each `token | its value sealed with its agent and token` (AES-GCM; values
    from earlier versions are Fernet and still open, see broker/pii/sealing.py). A piece is found
    by its slot (`PiiTokenSlot`); see broker/pii/sql_rows.py for the layout and
    broker/pii/sql_vault.py for the vault. Only inserted, and deleted once no slot points to it.
    """

    __tablename__ = "pii_token_chunks"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    agent: Mapped[str] = mapped_column(String(36))
    body: Mapped[bytes] = mapped_column(LargeBinary)


class PiiTokenSlot(Base):
    """Where a live token's value is: its chunk and the piece's offset there, until `expires_us`
    (microseconds since the epoch). Keyed by `token_key`, a hash of (agent, token)
    (broker/pii/sql_keys.py, migration 0017). Inserted, or taken over once expired: a live
    token's value never changes. The SQLite vault writing behind keeps its slots in
    `pii_token_places` instead.
    """

    __tablename__ = "pii_token_slots"

    token_key: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False
    )
    chunk: Mapped[int] = mapped_column(BigInteger)
    at: Mapped[int] = mapped_column(Integer)
    expires_us: Mapped[int] = mapped_column(BigInteger)  # no index: see migration 0015


class PiiTokenPlace(Base):
    """A slot of the SQLite vault writing behind (migration 0018): a token's chunk and the piece's
    offset there, until `expires_us`, under a running id, so that a flush appends; its key
    (`token_key`) is a plain column, found through the vault's map of keys in memory
    (broker/pii/sql_keymap.py). Inserted, or taken over once expired. Empty on PostgreSQL.
    """

    __tablename__ = "pii_token_places"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    token_key: Mapped[int] = mapped_column(BigInteger)  # no index: the vault's map is it
    chunk: Mapped[int] = mapped_column(BigInteger)
    at: Mapped[int] = mapped_column(Integer)
    expires_us: Mapped[int] = mapped_column(BigInteger)


class Secret(Base):
    """A credential, encrypted at rest (Fernet with the gateway's key); never returned by the API."""

    __tablename__ = "secrets"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class LlmConfigRecord(Base):
    """One LLM proxy setting by kind and name: a provider, model route, price, budget or rate limit."""

    __tablename__ = "llm_config"

    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    config: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class LlmUsageRecord(Base):
    """The usage ledger: one row per model call through the LLM proxy, refused calls included."""

    __tablename__ = "llm_usage"
    __table_args__ = (
        Index("ix_llm_usage_agent_ts", "agent", "ts"),
        Index("ix_llm_usage_team_ts", "team", "ts"),
        Index("ix_llm_usage_end_user_ts", "end_user", "ts"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    ts: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    request_id: Mapped[str] = mapped_column(String(36))
    agent: Mapped[str] = mapped_column(String(64))
    team: Mapped[str | None] = mapped_column(String(64))
    endpoint: Mapped[str] = mapped_column(String(32))
    model: Mapped[str] = mapped_column(String(200))
    provider: Mapped[str | None] = mapped_column(String(64))
    upstream_model: Mapped[str | None] = mapped_column(String(200))
    stream: Mapped[bool] = mapped_column(Boolean)
    status: Mapped[str] = mapped_column(String(32))
    http_status: Mapped[int] = mapped_column(Integer)
    prompt_tokens: Mapped[int] = mapped_column(Integer)
    completion_tokens: Mapped[int] = mapped_column(Integer)
    cached_tokens: Mapped[int] = mapped_column(Integer)
    estimated: Mapped[bool] = mapped_column(Boolean)
    cost_usd: Mapped[float] = mapped_column(Float)
    latency_ms: Mapped[float] = mapped_column(Float)
    ttft_ms: Mapped[float | None] = mapped_column(Float)
    attempts: Mapped[int] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    end_user: Mapped[str | None] = mapped_column(String(200))
    trace_id: Mapped[str | None] = mapped_column(String(32))
    """The end user the agent acted for (an OAuth token's subject); null for agent keys."""
    guardrails: Mapped[str | None] = mapped_column(Text)
    """The call's guardrail verdicts as JSON (rule, action, where, score); never the text."""
    cache: Mapped[str | None] = mapped_column(String(16))
    """The semantic cache's part: hit, miss or bypass (null: the route has no semantic cache)."""
    saved_tokens: Mapped[int | None] = mapped_column(Integer)
    saved_usd: Mapped[float | None] = mapped_column(Float)
    connector: Mapped[str | None] = mapped_column(String(64))
    """For a sampling request served by the gateway: the connector whose tool asked (else null)."""
    tool: Mapped[str | None] = mapped_column(String(200))
    """For a sampling request served by the gateway: the tool that asked (`<connector>.<tool>`)."""


class SemanticCacheEntry(Base):
    """An answer the semantic cache may serve again: to the same scope (agent and end user, or a
    shared scope), for the same exact key (model, conversation before the last message,
    parameters, the last message's entities), when the wording's embedding is close enough."""

    __tablename__ = "semantic_cache"
    __table_args__ = (Index("ix_semantic_cache_lookup", "scope", "exact_key", "expires_at"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    scope: Mapped[str] = mapped_column(String(128))
    exact_key: Mapped[str] = mapped_column(String(64))
    embedding: Mapped[bytes] = mapped_column(LargeBinary)
    """float32 values, little-endian, normalised to length 1."""
    answer: Mapped[str] = mapped_column(Text)
    """The chat completion as JSON, Fernet-encrypted with its scope and exact key
    (broker/llm/semantic/cache.py); never plaintext."""
    prompt_tokens: Mapped[int] = mapped_column(Integer)
    completion_tokens: Mapped[int] = mapped_column(Integer)
    cost_usd: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AdminChange(Base):
    """One change made through the admin API: who, what, and the resource before and after
    (as the admin API shows it, so never a secret's value)."""

    __tablename__ = "admin_changes"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    ts: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    actor: Mapped[str] = mapped_column(String(300))
    role: Mapped[str] = mapped_column(String(16))
    method: Mapped[str] = mapped_column(String(8))
    path: Mapped[str] = mapped_column(String(500))
    status: Mapped[int] = mapped_column(Integer)
    before: Mapped[Any | None] = mapped_column(JSON)
    after: Mapped[Any | None] = mapped_column(JSON)


class UserConnection(Base):
    """One end user's own OAuth grant at one connector's upstream (`auth: {type: user_oauth}`):
    the tokens encrypted (Fernet, sealed with the connector and user), never returned by any API."""

    __tablename__ = "user_connections"

    connector: Mapped[str] = mapped_column(String(63), primary_key=True)
    end_user: Mapped[str] = mapped_column(String(255), primary_key=True)
    agent: Mapped[str] = mapped_column(String(64))
    """The agent through which the user connected (shown on the consent screen)."""
    status: Mapped[str] = mapped_column(String(16))
    """connected, or disconnected (a refresh failed: the user must connect again)."""
    scopes: Mapped[str] = mapped_column(Text, default="")
    ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ConnectState(Base):
    """A pending authorization request: single use, short-lived, bound to a user and connector.
    Only the state's SHA-256 is stored; the PKCE verifier is encrypted."""

    __tablename__ = "connect_states"

    state_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    connector: Mapped[str] = mapped_column(String(63))
    end_user: Mapped[str] = mapped_column(String(255))
    agent: Mapped[str] = mapped_column(String(64))
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
