"""The LLM proxy's configuration vocabulary: providers, model routes, prices, budgets, limits.

Each kind is validated with pydantic (YAML files, admin payloads) and stored by name. One
document carries all of them:

    providers:
      - {name: openai, kind: openai, base_url: "https://api.openai.com/v1",
         api_key_secret: OPENAI_API_KEY, models: [gpt-4o-mini, text-embedding-3-small]}
    models:                        # routes: names clients use, tried in order (fallbacks)
      - {name: fast, targets: [openai/gpt-4o-mini, backup/gpt-4o-mini]}
    prices:                        # USD per million tokens
      - {model: openai/gpt-4o-mini, input: 0.15, output: 0.60, cached_input: 0.075}
    budgets:
      - {name: support-daily, team: support, period: day, usd: 5}
    rate_limits:
      - {name: bot-rpm, agent: support-bot, rpm: 60, tpm: 100000}
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from connectors.http1 import header_problem
from connectors.outbound import OutboundConfigError, check_proxy_url
from policies.models_access import model_pattern_problem

SLUG = r"^[a-z0-9][a-z0-9_.-]{0,62}$"
Slug = Annotated[str, Field(pattern=SLUG, description="Lowercase slug of at most 63 characters.")]
SECRET_NAME_PATTERN = r"^[A-Za-z0-9_.-]{1,100}$"  # noqa: S105 (a name pattern, not a secret)
HEADER_NAME = r"^[A-Za-z0-9-]{1,100}$"
_FORBIDDEN_HEADERS = frozenset({"authorization", "x-api-key", "api-key", "host", "content-length", "cookie"})


def _model_name(value: str) -> str:
    problem = model_pattern_problem(value)
    if problem is None and any(ch in value for ch in "*?["):
        problem = f"{value!r} is not a model name: it must not contain '*', '?' or '['"
    if problem is not None:
        raise PydanticCustomError("model_name", "{problem}", {"problem": problem.replace("pattern", "name")})
    return value


def _qualified(value: str) -> str:
    if "/" not in value.strip("/"):
        raise PydanticCustomError(
            "target", "target '{target}' must be '<provider>/<model>'", {"target": value}
        )
    return value


ModelName = Annotated[str, BeforeValidator(lambda v: _model_name(v) if isinstance(v, str) else v)]
Target = Annotated[ModelName, AfterValidator(_qualified)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelOffer(_Strict):
    """One model a provider serves, by the provider's own id."""

    name: ModelName = Field(description="The provider's model id, e.g. 'gpt-4o-mini' or 'llama3:8b'.")
    max_output_tokens: int | None = Field(
        default=None, gt=0, description="Worst-case completion size reserved against budgets when a "
        "request sets no max_tokens (default: BROKER_LLM_DEFAULT_MAX_TOKENS).",
    )  # fmt: skip


def _offer(value: Any) -> Any:
    return {"name": value} if isinstance(value, str) else value


class ProviderConfig(_Strict):
    """An upstream model provider: any OpenAI-compatible endpoint, or Anthropic."""

    name: Slug = Field(description="Unique provider name; qualified model names are '<provider>/<model>'.")
    kind: Literal["openai", "anthropic"] = Field(
        description="'openai' for any OpenAI-compatible API (OpenAI, Azure OpenAI, vLLM, Ollama, Mistral, "
        "Groq, OpenRouter...), 'anthropic' for Anthropic's Messages API."
    )
    description: str = Field(default="", max_length=2000)
    base_url: str = Field(
        description="API base as the vendor's SDK takes it: 'https://api.openai.com/v1' (paths "
        "/chat/completions and /embeddings are appended) or 'https://api.anthropic.com' (/v1/messages).",
    )
    api_key_secret: Annotated[str, Field(pattern=SECRET_NAME_PATTERN)] | None = Field(
        default=None,
        description="Name of the secret holding the provider's API key; the key itself never appears in "
        "configuration. Leave out for endpoints without auth (a local Ollama or vLLM).",
    )
    auth_header: Annotated[str, Field(pattern=HEADER_NAME)] | None = Field(
        default=None,
        description="Header carrying the key: default 'Authorization: Bearer <key>' for openai, 'x-api-key' "
        "for anthropic; e.g. 'api-key' for Azure OpenAI (the key is then sent as is).",
    )
    headers: dict[Annotated[str, Field(pattern=HEADER_NAME)], str] = Field(
        default_factory=dict, description="Extra non-secret headers sent upstream (e.g. OpenAI-Organization)."
    )
    query: dict[str, str] = Field(
        default_factory=dict, description="Query parameters added to every call (e.g. Azure's api-version)."
    )
    proxy: str | None = Field(
        default=None,
        description="HTTP proxy URL (http://HOST:PORT) tunnelling this provider's calls (CONNECT), "
        "instead of BROKER_HTTPS_PROXY; '' for a direct connection. BROKER_NO_PROXY applies either way.",
    )
    models: list[Annotated[ModelOffer, BeforeValidator(_offer)]] = Field(
        min_length=1,
        description="Models served, by the provider's ids (strings or {name, max_output_tokens}).",
    )
    timeout_seconds: float = Field(default=120.0, gt=0, le=3600, description="Longest wait for any byte.")
    connect_timeout_seconds: float = Field(default=5.0, gt=0, le=120)
    max_retries: int = Field(
        default=1, ge=0, le=5, description="Retries on this provider (5xx, timeouts, connection errors) "
        "before trying the route's next target.",
    )  # fmt: skip
    max_connections: int = Field(default=256, gt=0, le=10_000, description="Keep-alive connection pool size.")

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")) or len(value) > 2000:
            raise PydanticCustomError("url", "must be an http:// or https:// URL")
        if any(ch.isspace() or not ch.isprintable() for ch in value):
            raise PydanticCustomError("url", "must not contain spaces or control characters")
        return value.rstrip("/")

    @field_validator("proxy")
    @classmethod
    def _proxy_url(cls, value: str | None) -> str | None:
        if value:
            try:
                check_proxy_url(value)
            except OutboundConfigError as exc:
                raise PydanticCustomError("proxy", "{problem}", {"problem": str(exc)}) from None
            if "@" in value:
                raise PydanticCustomError(
                    "proxy",
                    "a provider's proxy may not carry credentials (configuration is readable through the "
                    "admin API); put an authenticating proxy in BROKER_HTTPS_PROXY",
                )
        return value

    @field_validator("headers")
    @classmethod
    def _no_credentials_in_headers(cls, value: dict[str, str]) -> dict[str, str]:
        for name, text in value.items():
            problem = header_problem(name, text)
            if problem is not None:
                raise PydanticCustomError(
                    "header", "{problem}; headers cannot span lines", {"problem": problem}
                )
        bad = sorted(h for h in value if h.lower() in _FORBIDDEN_HEADERS)
        if bad:
            raise PydanticCustomError(
                "header", "headers may not set {bad}: keys come from api_key_secret", {"bad": ", ".join(bad)}
            )
        return value

    @field_validator("models")
    @classmethod
    def _unique_models(cls, value: list[ModelOffer]) -> list[ModelOffer]:
        names = [m.name for m in value]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise PydanticCustomError("duplicate", "models repeated: {names}", {"names": ", ".join(repeated)})
        return value


class SemanticCacheConfig(_Strict):
    """Answers served again for prompts that mean the same (see broker/llm/semantic)."""

    embedding_model: ModelName = Field(
        description="A model name the gateway serves for /v1/embeddings: prompts are embedded through the "
        "gateway's own proxy, so embeddings are metered like any call."
    )
    threshold: float = Field(default=0.9, ge=0.5, le=1.0, description="Cosine similarity a hit needs.")
    ttl_seconds: int = Field(default=3600, ge=1, le=30 * 86400, description="How long an answer is kept.")
    shared: bool = Field(
        default=False,
        description="Entries are "
        "per agent and end user unless this is true, and then only among agents whose masking and model "
        "policy are equal.",
    )


class RouteConfig(_Strict):
    """A model name clients use (an alias such as 'fast'), served by targets tried in order."""

    name: ModelName = Field(description="The name clients put in 'model'; policies grant it.")
    description: str = Field(default="", max_length=2000)
    targets: list[Target] = Field(
        min_length=1,
        max_length=10,
        description="'<provider>/<model>' targets: the first is the primary, the rest are fallbacks tried "
        "on 5xx, timeouts and connection errors before anything was streamed.",
    )
    semantic_cache: SemanticCacheConfig | None = Field(
        default=None, description="Serve answers again for prompts that mean the same (off by default)."
    )


class PriceConfig(_Strict):
    """Prices in USD per million tokens for one model."""

    model: ModelName = Field(
        description="'<provider>/<model>' for one provider's model, or a bare model id for that model at "
        "any provider (the qualified entry wins)."
    )
    input: float = Field(ge=0, description="USD per million prompt tokens.")
    output: float = Field(ge=0, description="USD per million completion tokens.")
    cached_input: float | None = Field(
        default=None, ge=0, description="USD per million cached prompt tokens (default: the input price)."
    )

    @property
    def name(self) -> str:
        return self.model


class _Scoped(_Strict):
    name: Slug
    agent: Slug | None = Field(default=None, description="The agent this applies to.")
    team: Slug | None = Field(default=None, description="The team this applies to (all its agents together).")

    @model_validator(mode="after")
    def _one_subject(self) -> _Scoped:
        if (self.agent is None) == (self.team is None):
            raise PydanticCustomError("subject", "set exactly one of 'agent' or 'team'")
        return self

    @property
    def scope(self) -> Literal["agent", "team"]:
        return "agent" if self.agent is not None else "team"

    @property
    def subject(self) -> str:
        return self.agent if self.agent is not None else str(self.team)


class BudgetConfig(_Scoped):
    """A spending cap per agent or team per calendar day or month (UTC), in tokens or USD."""

    period: Literal["day", "month"]
    tokens: int | None = Field(default=None, gt=0, description="Cap on prompt + completion tokens.")
    usd: float | None = Field(default=None, gt=0, description="Cap on cost in USD (from the price table).")

    @model_validator(mode="after")
    def _one_unit(self) -> BudgetConfig:
        if (self.tokens is None) == (self.usd is None):
            raise PydanticCustomError("unit", "set exactly one of 'tokens' or 'usd'")
        return self

    @property
    def unit(self) -> Literal["tokens", "usd"]:
        return "tokens" if self.tokens is not None else "usd"

    @property
    def limit(self) -> float:
        return float(self.tokens if self.tokens is not None else self.usd or 0)


class RateLimitConfig(_Scoped):
    """Requests and tokens per minute for an agent or a team."""

    rpm: int | None = Field(default=None, gt=0, description="Requests per minute.")
    tpm: int | None = Field(default=None, gt=0, description="Tokens (prompt + completion) per minute.")

    @model_validator(mode="after")
    def _some_limit(self) -> RateLimitConfig:
        if self.rpm is None and self.tpm is None:
            raise PydanticCustomError("limit", "set 'rpm', 'tpm' or both")
        return self


class LlmDocument(_Strict):
    """Everything the LLM proxy is configured with; every section is optional and upserted by name."""

    providers: list[ProviderConfig] = Field(default_factory=list)
    models: list[RouteConfig] = Field(default_factory=list, description="Model routes and aliases.")
    prices: list[PriceConfig] = Field(default_factory=list, description="The price table.")
    budgets: list[BudgetConfig] = Field(default_factory=list)
    rate_limits: list[RateLimitConfig] = Field(default_factory=list)

    @field_validator("providers", "models", "prices", "budgets", "rate_limits")
    @classmethod
    def _unique_names(cls, items: list[AnyConfig]) -> list[AnyConfig]:
        names = [name_of(item) for item in items]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise PydanticCustomError(
                "duplicate", "names must be unique; repeated: {names}", {"names": ", ".join(repeated)}
            )
        return items


Kind = Literal["providers", "models", "prices", "budgets", "rate_limits"]
KINDS: dict[str, type[_Strict]] = {
    "providers": ProviderConfig,
    "models": RouteConfig,
    "prices": PriceConfig,
    "budgets": BudgetConfig,
    "rate_limits": RateLimitConfig,
}
AnyConfig = ProviderConfig | RouteConfig | PriceConfig | BudgetConfig | RateLimitConfig


def name_of(config: AnyConfig) -> str:
    return config.model if isinstance(config, PriceConfig) else config.name
