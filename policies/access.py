"""Resource and prompt access: the optional `resources:` and `prompts:` sections of a policy.

    policies:
      - name: support
        teams: [support]
        allow: ["crm.*"]
        resources:
          allow: ["broker://crm/*", "broker://files/file:///public/*"]
          deny: ["broker://crm/tables/audit*"]
        prompts:
          allow: ["files.*"]
          constraints:
            files.summarise: {language: {enum: [en, de]}}

Resource patterns are case-sensitive fnmatch globs over the URIs clients see
(`broker://<connector>/<upstream uri>`, see broker/uris.py, or the upstream's own URI for an
mcp connector with `prefix: false`); prompt patterns are like tool patterns
(`<connector>.<prompt>`, or the bare upstream name with `prefix: false`). The same semantics
as tools: default deny, deny wins; prompt argument constraints hold for every matching
prompt, whichever policy granted it.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from policies.arguments import ArgumentConstraint, Name, PromptPattern
from policies.patterns import checked_by, free_text_pattern_problem

RESOURCE_SCHEME = "broker://"
_URI_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
"""RFC 3986 scheme: tool names never contain ':', so this tells a resource pattern from a tool one."""
MAX_RESOURCE_PATTERN_LENGTH = 1024


def resource_pattern_problem(pattern: str) -> str | None:
    """Say what is wrong with a resource URI pattern, or return None when it is valid."""
    problem = free_text_pattern_problem(pattern, "resource", MAX_RESOURCE_PATTERN_LENGTH)
    if problem is not None:
        return problem
    if pattern != "*" and not is_uri_pattern(pattern):
        return (
            f"{pattern!r} is not a resource pattern: resources are matched by the URIs clients see, "
            f"'{RESOURCE_SCHEME}<connector>/<uri>' (e.g. '{RESOURCE_SCHEME}crm/*'), an upstream's own URI "
            "for an mcp connector with `prefix: false` (e.g. 'file:///public/*'), or '*' for all"
        )
    return None


def is_uri_pattern(pattern: str) -> bool:
    """Whether a pattern names resources: it starts with a URI scheme ('broker:', 'file:', ...)."""
    return _URI_SCHEME.match(pattern) is not None


ResourcePattern = Annotated[str, checked_by("resource_pattern", resource_pattern_problem)]


class ResourceAccess(BaseModel):
    """Which resources a policy's agents and teams may list and read."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    allow: list[ResourcePattern] = Field(
        default_factory=list,
        description="Resources granted, by gateway URI or glob: 'broker://crm/*', "
        "'broker://files/file:///public/*', '*'. A template is listed when its URI template matches.",
        examples=[["broker://crm/*"]],
    )
    deny: list[ResourcePattern] = Field(
        default_factory=list,
        description="Resources refused to this policy's agents and teams, whatever any policy allows.",
        examples=[["broker://crm/tables/audit*"]],
    )

    def is_empty(self) -> bool:
        return not self.allow and not self.deny


class PromptAccess(BaseModel):
    """Which prompts a policy's agents and teams may list and get, with which arguments."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    allow: list[PromptPattern] = Field(
        default_factory=list,
        description="Prompts granted: '<connector>.<prompt>' names or globs ('files.*', '*'), or the "
        "upstream's own names for an mcp connector with `prefix: false` ('summarise', 'code_*').",
        examples=[["files.*"]],
    )
    deny: list[PromptPattern] = Field(
        default_factory=list,
        description="Prompts refused to this policy's agents and teams, whatever any policy allows.",
    )
    constraints: dict[PromptPattern, Annotated[dict[Name, ArgumentConstraint], Field(min_length=1)]] = Field(
        default_factory=dict,
        description="Argument limits by prompt name or glob, then by argument name (prompt arguments "
        "are strings: enum, pattern, max_length).",
        examples=[{"files.summarise": {"language": {"enum": ["en", "de"]}}}],
    )

    def is_empty(self) -> bool:
        return not self.allow and not self.deny and not self.constraints
