"""The policy vocabulary: pydantic models for policy data, plain values for decisions.

The pydantic models validate YAML files and admin payloads and document themselves in the
OpenAPI schema, so every field carries a description and every error points at its field.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictInt,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from policies.cache import CacheSetting
from policies.guardrails import Guardrails
from policies.masking import MaskingPolicy
from policies.models_access import ModelAccess
from policies.patterns import pattern_problem

POLICY_NAME_PATTERN = r"^[a-z0-9][a-z0-9_.-]{0,62}$"


def _check_tool_pattern(value: str) -> str:
    problem = pattern_problem(value)
    if problem is not None:
        # Via the context: the user's pattern may contain braces.
        raise PydanticCustomError("tool_pattern", "{problem}", {"problem": problem})
    return value


def _check_name(value: str) -> str:
    if not value or value != value.strip():
        raise PydanticCustomError("name", "must be a non-empty name without surrounding whitespace")
    return value


def _check_number(value: object) -> object:
    # Strict: YAML `true` or "50" must not slip in where a number is meant.
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise PydanticCustomError("number", "must be a finite number (not a boolean or a string)")
    return value


def _check_scalar(value: object) -> object:
    if (
        value is None
        or isinstance(value, str | bool)
        or (isinstance(value, int | float) and math.isfinite(value))
    ):
        return value
    raise PydanticCustomError("scalar", "must be a string, a finite number, a boolean or null")


ToolPattern = Annotated[str, AfterValidator(_check_tool_pattern)]
Name = Annotated[str, AfterValidator(_check_name)]
Number = Annotated[int | float, BeforeValidator(_check_number)]
Scalar = Annotated[bool | int | float | str | None, BeforeValidator(_check_scalar)]


class ArgumentConstraint(BaseModel):
    """Limits on one argument of a tool call. Every limit that is set must hold.

    An argument absent from the call is not checked: the tool's own input schema decides
    which arguments are required. An explicit null is a value, and is checked.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    enum: list[Scalar] | None = Field(
        default=None,
        min_length=1,
        description="Allowed values: the argument must equal one of them. Booleans never equal numbers.",
        examples=[["EU"], [10, 20, 50]],
    )
    minimum: Number | None = Field(
        default=None,
        description="Smallest allowed value, inclusive. The argument must then be a number (not a boolean).",
    )
    maximum: Number | None = Field(
        default=None,
        description="Largest allowed value, inclusive. The argument must then be a number (not a boolean).",
    )
    pattern: str | None = Field(
        default=None,
        description="Python regular expression the whole string must match (re.fullmatch). "
        "The argument must then be a string.",
        examples=["TCK-[0-9]{6}"],
    )
    max_length: Annotated[StrictInt, Field(ge=0)] | None = Field(
        default=None,
        description="Maximum length in characters. The argument must then be a string.",
    )

    @field_validator("pattern")
    @classmethod
    def _pattern_compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise PydanticCustomError(
                    "regex",
                    "invalid regular expression '{pattern}': {error}",
                    {"pattern": value, "error": str(exc)},
                ) from exc
        return value

    @field_validator("maximum")
    @classmethod
    def _maximum_not_below_minimum(cls, value: float | None, info: ValidationInfo) -> float | None:
        minimum = info.data.get("minimum")
        if value is not None and minimum is not None and value < minimum:
            raise PydanticCustomError(
                "range",
                "maximum {maximum} is below minimum {minimum}",
                {"maximum": value, "minimum": minimum},
            )
        return value

    @model_validator(mode="after")
    def _meaningful(self) -> ArgumentConstraint:
        numeric = self.minimum is not None or self.maximum is not None
        textual = self.pattern is not None or self.max_length is not None
        if not numeric and not textual and self.enum is None:
            raise PydanticCustomError(
                "empty_constraint", "set at least one of enum, minimum, maximum, pattern, max_length"
            )
        if numeric and textual:
            raise PydanticCustomError(
                "mixed_constraint",
                "minimum/maximum need a number and pattern/max_length need a string:"
                " one argument cannot be both",
            )
        return self


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
    cache: dict[ToolPattern, CacheSetting] = Field(
        default_factory=dict,
        description="How results are cached for this policy's agents and teams, by tool name or glob "
        "(see policies.cache). Without an entry only read-only, idempotent tools are cached, per agent, "
        "for the gateway's default TTL.",
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
        quiet = self.masking is None and not self.cache and self.guardrails is None
        if not self.allow and not self.deny and not self.constraints and no_models and quiet:
            raise PydanticCustomError(
                "policy_effect",
                "a policy must allow, deny or constrain at least one tool or model, or set masking, cache or "
                "guardrails",
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


@dataclass(frozen=True, slots=True)
class Subject:
    """Who is asking: an agent id and the team it belongs to, if any."""

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
