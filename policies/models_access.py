"""Model access: the optional `models:` section of a policy, for the LLM proxy.

    policies:
      - name: support
        teams: [support]
        allow: ["crm.*"]
        models:
          allow: [fast, "gpt-4o-mini", "openai/*"]
          deny: ["*-preview"]

Model patterns are model names as clients ask for them (an alias such as ``fast``, a bare
model such as ``gpt-4o-mini``, or a qualified ``provider/model``), or case-sensitive fnmatch
globs over those names. The same semantics as tools: default deny, deny wins.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from policies.patterns import checked_by, free_text_pattern_problem

MAX_MODEL_PATTERN_LENGTH = 200


def model_pattern_problem(pattern: str) -> str | None:
    """Say what is wrong with a model pattern, or return None when it is valid."""
    return free_text_pattern_problem(pattern, "model", MAX_MODEL_PATTERN_LENGTH)


ModelPattern = Annotated[str, checked_by("model_pattern", model_pattern_problem)]


class ModelAccess(BaseModel):
    """Which models (and aliases) a policy's agents and teams may call through the LLM proxy."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    allow: list[ModelPattern] = Field(
        default_factory=list,
        description="Models granted, by the name clients use: an alias ('fast'), a model ('gpt-4o-mini'), "
        "a qualified 'provider/model', or a glob ('openai/*', '*').",
        examples=[["fast", "openai/*"]],
    )
    deny: list[ModelPattern] = Field(
        default_factory=list,
        description="Models refused to this policy's agents and teams, whatever any policy allows.",
        examples=[["*-preview"]],
    )

    def is_empty(self) -> bool:
        return not self.allow and not self.deny
