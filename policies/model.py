"""The policy vocabulary: pydantic models for policy data, plain values for decisions.

The pydantic models validate YAML files and admin payloads and document themselves in the
OpenAPI schema, so every field carries a description and every error points at its field.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

from policies.access import PromptAccess, ResourceAccess
from policies.arguments import ArgumentConstraint, Name, ToolPattern
from policies.cache import CachePattern, CacheSetting
from policies.guardrails import Guardrails
from policies.masking import MaskingPolicy
from policies.models_access import ModelAccess
from policies.sampling import SamplingPolicy

POLICY_NAME_PATTERN = r"^[a-z0-9][a-z0-9_.-]{0,62}$"


class Policy(BaseModel):
    """Which tools some agents or teams may call, and with which arguments. Default deny."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(
        pattern=POLICY_NAME_PATTERN,
        description="Unique name (lowercase slug, at most 63 characters); decisions cite it.",
        examples=["support"],
    )
    description: str = Field(default="", description="Free text for operators.")
    agents: list[Name] = Field(default_factory=list, description="Agent ids this policy applies to.")
    teams: list[Name] = Field(
        default_factory=list,
        validate_default=True,
        description="Teams this policy applies to (every agent of the team). "
        "A policy needs at least one agent or team.",
    )
    allow: list[ToolPattern] = Field(
        description="Tools granted: exact names ('weather.current') or case-sensitive fnmatch globs "
        "('crm.*', 'crm.get_?', '*'). May be empty for a policy that only denies or constrains.",
        examples=[["crm.*", "weather.current"]],
    )
    deny: list[ToolPattern] = Field(
        default_factory=list,
        description="Tools refused to this policy's agents and teams, whatever any policy allows: deny wins.",
        examples=[["crm.delete_*"]],
    )
    constraints: dict[ToolPattern, Annotated[dict[Name, ArgumentConstraint], Field(min_length=1)]] = Field(
        default_factory=dict,
        description="Argument limits, by tool name or glob, then by argument name. They apply to every call "
        "of a matching tool by this policy's agents and teams, whichever policy granted the tool.",
        examples=[{"crm.*": {"limit": {"maximum": 50}, "region": {"enum": ["EU"]}}}],
    )
    models: ModelAccess | None = Field(
        default=None,
        description="Models (and aliases) this policy's agents and teams may call through the LLM proxy "
        "at /v1. Without any models section an agent may use no model.",
        examples=[{"allow": ["fast", "openai/*"], "deny": ["*-preview"]}],
    )
    resources: ResourceAccess | None = Field(
        default=None,
        description="Resources (by the URIs clients see, 'broker://<connector>/...') this policy's agents "
        "and teams may list and read. Without any resources section an agent sees no resource.",
        examples=[{"allow": ["broker://crm/*"], "deny": ["broker://crm/tables/audit*"]}],
    )
    prompts: PromptAccess | None = Field(
        default=None,
        description="Prompts ('<connector>.<prompt>') this policy's agents and teams may list and get. "
        "Without any prompts section an agent sees no prompt.",
        examples=[{"allow": ["files.*"]}],
    )
    masking: MaskingPolicy | None = Field(
        default=None,
        description="How PII in tool results is masked for this policy's agents and teams (see "
        "policies.masking). Where several policies apply, the strongest operator per entity type wins; "
        "without any masking section every detected entity is replaced by its type.",
    )
    guardrails: Guardrails | None = Field(
        default=None,
        description="What the LLM proxy checks in this policy's agents' prompts and answers: PII, "
        "secrets, prompt injection, denied topics (see policies.guardrails). Where several policies "
        "apply, the strongest action per check wins.",
    )
    sampling: SamplingPolicy | None = Field(
        default=None,
        description="Whether the gateway's LLM proxy answers the sampling requests of upstream MCP tools "
        "this policy's agents call (see policies.sampling). Without any sampling section such requests "
        "are only relayed to a client that declared sampling.",
        examples=[{"serve_with": "fast", "max_tokens": 512}],
    )
    cache: dict[CachePattern, CacheSetting] = Field(
        default_factory=dict,
        description="How results are cached for this policy's agents and teams, by tool name or glob, "
        "or resource URI pattern ('broker://...') (see policies.cache). Without an entry only read-only, "
        "idempotent tools and resource reads are cached, per agent, for the gateway's default TTL.",
        examples=[{"weather.*": {"ttl_seconds": 300, "shared": True}}],
    )

    @field_validator("teams")
    @classmethod
    def _has_subject(cls, teams: list[str], info: ValidationInfo) -> list[str]:
        # Checked on `teams` (not the whole model) so the error's loc names a field.
        # If `agents` itself failed, it is absent from info.data and already reported.
        if not teams and info.data.get("agents") == []:
            raise PydanticCustomError(
                "policy_subject",
                "a policy needs a subject: list at least one agent in 'agents' or team in 'teams'",
            )
        return teams

    @model_validator(mode="after")
    def _has_effect(self) -> Policy:
        no_models = self.models is None or self.models.is_empty()
        quiet = self.masking is None and not self.cache and self.guardrails is None and self.sampling is None
        no_catalog = (self.resources is None or self.resources.is_empty()) and (
            self.prompts is None or self.prompts.is_empty()
        )
        if not self.allow and not self.deny and not self.constraints and no_models and quiet and no_catalog:
            raise PydanticCustomError(
                "policy_effect",
                "a policy must allow, deny or constrain at least one tool, model, resource or prompt, "
                "or set masking, cache, guardrails or sampling",
            )
        return self


class PolicyDocument(BaseModel):
    """A policy file or admin payload: a top-level `policies:` list."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    policies: list[Policy] = Field(description="The policies; names must be unique.")

    @field_validator("policies")
    @classmethod
    def _unique_names(cls, policies: list[Policy]) -> list[Policy]:
        seen: dict[str, int] = {}
        for index, policy in enumerate(policies):
            if policy.name in seen:
                raise PydanticCustomError(
                    "duplicate_policy",
                    "policy name '{name}' is used twice (policies {first} and {second})",
                    {"name": policy.name, "first": seen[policy.name], "second": index},
                )
            seen[policy.name] = index
        return policies


class Subject(NamedTuple):
    """Who is asking: an agent id and the team it belongs to, if any. A tuple: one is made for
    every call and is the key of the policy set's memos (made, hashed and compared in C)."""

    name: str
    team: str | None = None


@dataclass(frozen=True, slots=True)
class Violation:
    """One argument outside one constraint."""

    argument: str
    kind: str
    """Which limit failed: 'enum', 'minimum', 'maximum', 'pattern', 'max_length' or 'type'."""
    policy: str
    rule: str
    """The constraints key (tool name or glob) the limit was set for."""
    reason: str


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome of one policy check, with a reason fit to show an operator or the agent."""

    allowed: bool
    reason: str
    policy: str | None = None
    """The deciding policy: the one that granted, denied, or set the first violated constraint."""
    violations: tuple[Violation, ...] = ()
