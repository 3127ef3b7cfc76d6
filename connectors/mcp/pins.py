"""Tool pinning: the SHA-256 of a tool definition's canonical JSON, and drift from the pins.

A pin covers what a model reads and what the broker validates against: the tool's name,
description, input schema, output schema and annotations, spelled as MCP sends them
(`inputSchema`, `readOnlyHint`, ...). Canonical JSON has sorted keys, no whitespace and
UTF-8 text, and names every one of the five fields (absent ones as null), so a field
appearing or disappearing changes the pin as surely as a changed value does.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import mcp_types as types
from pydantic import BaseModel, ConfigDict, Field, model_validator

from connectors.base import PromptSpec, ResourceSpec, ResourceTemplateSpec, ToolSpec

MCP_TOOL_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")
"""Tool names as MCP allows them: 1-128 of letters, digits, '_', '-' and '.'."""

PIN = re.compile(r"^[0-9a-f]{64}$")

Definition = dict[str, Any]
"""A tool definition in MCP's spelling: name, description, inputSchema, outputSchema, annotations."""


class PinnedTool(BaseModel):
    """An upstream tool's definition as reviewed and pinned at registration."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=MCP_TOOL_NAME.pattern, description="The upstream tool's name.")
    description: str | None = Field(None, description="The upstream description, verbatim.")
    input_schema: dict[str, Any] = Field(description="The upstream inputSchema, verbatim.")
    output_schema: dict[str, Any] | None = Field(None, description="The upstream outputSchema, verbatim.")
    annotations: dict[str, Any] | None = Field(
        None, description="The upstream annotations in MCP's spelling (readOnlyHint, ...)."
    )
    execution: dict[str, Any] | None = Field(
        None,
        description="The upstream's `execution` (task support) as listed at registration. Not "
        "pinned: it holds until the connector lists the upstream, whose answer then replaces it.",
    )

    def definition(self) -> Definition:
        """The definition in MCP's spelling, as it is hashed."""
        return {
            "name": self.name,
            "description": self.description,
            "inputSchema": self.input_schema,
            "outputSchema": self.output_schema,
            "annotations": self.annotations,
        }

    @classmethod
    def from_definition(cls, definition: Mapping[str, Any]) -> PinnedTool:
        return cls(
            name=definition["name"],
            description=definition.get("description"),
            input_schema=definition["inputSchema"],
            output_schema=definition.get("outputSchema"),
            annotations=definition.get("annotations"),
        )

    def spec(self) -> ToolSpec:
        return ToolSpec(
            name=self.name,
            description=self.description or "",
            input_schema=self.input_schema,
            output_schema=self.output_schema,
            annotations=self.annotations,
            execution=self.execution,
        )


def definition_of(tool: types.Tool) -> Definition:
    """The pinned fields of a listed tool, in MCP's spelling."""
    wire = tool.model_dump(by_alias=True, mode="json", exclude_none=True)
    return {
        "name": tool.name,
        "description": tool.description,
        "inputSchema": wire["inputSchema"],
        "outputSchema": wire.get("outputSchema"),
        "annotations": wire.get("annotations") or None,
    }


@dataclass(frozen=True, slots=True)
class Listed:
    """A tools listing read: each exposable tool's definition and pin, their execution fields,
    the names that cannot be exposed, and a name listed twice (the listing is then unusable)."""

    live: dict[str, tuple[Definition, str]]
    execution: dict[str, dict[str, Any]]
    unusable: list[str]
    twice: str | None = None


def listed_definitions(tools: Iterable[types.Tool], exposable: Callable[[str], bool]) -> Listed:
    """Read a listing (seconds of dumping and hashing for a big upstream: call it off the loop)."""
    live: dict[str, tuple[Definition, str]] = {}
    execution: dict[str, dict[str, Any]] = {}
    unusable: list[str] = []
    for tool in tools:
        if not exposable(tool.name):
            unusable.append(tool.name)
            continue
        if tool.name in live:
            return Listed(live, execution, unusable, twice=tool.name)
        definition = definition_of(tool)
        live[tool.name] = (definition, pin_of(definition))
        if tool.execution is not None:
            execution[tool.name] = tool.execution.model_dump(by_alias=True, mode="json", exclude_none=True)
    return Listed(live, execution, unusable)


def canonical_json(definition: Mapping[str, Any]) -> bytes:
    """Sorted keys, no whitespace, UTF-8: the same definition always gives the same bytes."""
    fields = {key: definition.get(key) for key in _FIELDS}
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def pin_of(definition: Mapping[str, Any]) -> str:
    """The pin of a definition: the hex SHA-256 of its canonical JSON."""
    return hashlib.sha256(canonical_json(definition)).hexdigest()


_FIELDS = ("name", "description", "inputSchema", "outputSchema", "annotations")


@dataclass(frozen=True, slots=True)
class Drift:
    """How the upstream's live tools differ from the pins, as of the last listing.

    `changed`: pinned tools whose live definition hashes differently (quarantined);
    `removed`: pinned tools the upstream no longer lists (quarantined);
    `new`: live tools that are not pinned (not exposed until approved, unless the
    connector says `expose_new_tools`). `checked` is False until a listing succeeded.
    """

    changed: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    new: tuple[str, ...] = ()
    checked: bool = False

    @property
    def quarantined(self) -> frozenset[str]:
        """Pinned tools that must not be called until an operator reviews them."""
        return frozenset(self.changed) | frozenset(self.removed)

    @property
    def clean(self) -> bool:
        return not (self.changed or self.removed or self.new)


def compute_drift(pins: Mapping[str, str], live: Mapping[str, str]) -> Drift:
    """Compare pins (name -> pin) with a live listing (name -> pin of its definition)."""
    return Drift(
        changed=tuple(sorted(name for name, pin in pins.items() if name in live and live[name] != pin)),
        removed=tuple(sorted(name for name in pins if name not in live)),
        new=tuple(sorted(name for name in live if name not in pins)),
        checked=True,
    )


def pin_tools(definitions: Iterable[Mapping[str, Any]]) -> tuple[list[PinnedTool], dict[str, str]]:
    """Pinned tools (sorted by name) and their pins, for definitions taken as reviewed."""
    tools = sorted((PinnedTool.from_definition(d) for d in definitions), key=lambda tool: tool.name)
    return tools, {tool.name: pin_of(tool.definition()) for tool in tools}


class OfferingPins(BaseModel):
    """The upstream's resources, resource templates and prompts as reviewed, each by the SHA-256
    of what a model reads of it (`offering_pin`). Written by registration and by approval.

    They tell the broker what an upstream may claim (two connectors that keep the upstream's
    own names must not collide) and hold a changed description for review like a changed tool.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    prompts: dict[str, str] = Field({}, description="Upstream prompt name -> pin.")
    templates: dict[str, str] = Field({}, description="Upstream URI template -> pin.")
    resources: dict[str, str] = Field({}, description="Upstream resource URI -> pin.")

    @model_validator(mode="after")
    def _check(self) -> OfferingPins:
        for kind, pins in (
            ("prompt", self.prompts),
            ("template", self.templates),
            ("resource", self.resources),
        ):
            bad = sorted(name for name, pin in pins.items() if not PIN.match(pin))
            if bad:
                raise ValueError(f"the pin of {kind} {bad[0]!r} is not a lower-case hex SHA-256")
        return self


_OFFERING_FIELDS = ("name", "title", "description", "mimeType", "arguments")


def offering_pin(spec: ResourceSpec | ResourceTemplateSpec | PromptSpec) -> str:
    """The pin of a resource, template or prompt: what a model reads of it (name, title,
    description, MIME type, prompt arguments), as canonical JSON, hashed."""
    fields: dict[str, Any] = {key: None for key in _OFFERING_FIELDS}
    fields.update(name=spec.name, title=spec.extra.get("title"), description=spec.description)
    if isinstance(spec, PromptSpec):
        fields["arguments"] = [dict(argument) for argument in spec.arguments] or None
    else:
        fields["mimeType"] = spec.mime_type
    text = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def pin_offerings(
    resources: Iterable[ResourceSpec],
    templates: Iterable[ResourceTemplateSpec],
    prompts: Iterable[PromptSpec],
) -> OfferingPins:
    """Pins for offerings taken as reviewed."""
    return OfferingPins(
        prompts={spec.name: offering_pin(spec) for spec in sorted(prompts, key=lambda s: s.name)},
        templates={
            spec.uri_template: offering_pin(spec) for spec in sorted(templates, key=lambda s: s.uri_template)
        },
        resources={spec.uri: offering_pin(spec) for spec in sorted(resources, key=lambda s: s.uri)},
    )
