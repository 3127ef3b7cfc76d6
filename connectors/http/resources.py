"""GET endpoints of an http connector declared as MCP resources or resource templates.

    resources:
      - uri: "cities/{city}/current"   # a template: its variables fill the tool's arguments
        tool: current                  # a declared GET tool of this connector
        name: Current weather
        description: The weather now in one city.
      - uri: status                    # no variables: a listed resource
        tool: status

A declared resource reads through its tool (`HttpConnector.call`): the same request
building, credentials, outbound guard, size limit and error handling; its answer's text is
the resource's contents. Variables are RFC 6570 simple expressions (`{name}`, one path
segment each) and the form-style query `{?a,b}`; values are percent-decoded. The broker
shows the URI as `broker://<connector>/<uri>`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import parse_qsl, unquote

from pydantic import BaseModel, ConfigDict, Field, field_validator

from connectors.base import ResourceOutput, ResourceSpec, ResourceTemplateSpec, ToolOutput
from connectors.errors import UnknownResource

_VARIABLE = re.compile(r"\{([A-Za-z0-9_]+)\}")
_QUERY = re.compile(r"\{\?([A-Za-z0-9_]+(?:,[A-Za-z0-9_]+)*)\}$")


class HttpResourceConfig(BaseModel):
    """One GET tool offered as a resource (a fixed URI) or a resource template (with variables)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    uri: str = Field(
        min_length=1,
        max_length=500,
        pattern=r"^[^\s]+$",
        description="Local URI or RFC 6570 template: '{name}' fills one path segment, a trailing "
        "'{?a,b}' query arguments. Clients see it as broker://<connector>/<uri>.",
        examples=["cities/{city}/current"],
    )
    tool: str = Field(description="The declared GET tool that reads it; the variables are its arguments.")
    name: str = Field(min_length=1, max_length=200, description="Display name.")
    description: str | None = Field(None, max_length=10_000)
    mime_type: str = Field("application/json", description="The contents' media type.")

    @field_validator("uri")
    @classmethod
    def _check_template(cls, uri: str) -> str:
        body = _QUERY.sub("", uri)
        if "{" in _VARIABLE.sub("", body) or "}" in _VARIABLE.sub("", body):
            raise ValueError("only '{name}' path variables and a trailing '{?a,b}' query are supported")
        return uri

    def variables(self) -> list[str]:
        query = _QUERY.search(self.uri)
        return _VARIABLE.findall(_QUERY.sub("", self.uri)) + (query.group(1).split(",") if query else [])

    def match(self, uri: str) -> dict[str, str] | None:
        """The variables' values when `uri` is an expansion of this template, else None."""
        query = _QUERY.search(self.uri)
        path = _QUERY.sub("", self.uri)
        pattern = "".join(
            f"(?P<{part[1:-1]}>[^/?#]+)" if _VARIABLE.fullmatch(part) else re.escape(part)
            for part in re.split(r"(\{[A-Za-z0-9_]+\})", path)
            if part
        )
        given, _, query_text = uri.partition("?") if query else (uri, "", "")
        found = re.fullmatch(pattern, given)
        if found is None:
            return None
        values = {name: unquote(value) for name, value in found.groupdict().items()}
        if query:
            allowed = set(query.group(1).split(","))
            values.update((k, v) for k, v in parse_qsl(query_text, keep_blank_values=True) if k in allowed)
        return values


def resource_specs(declared: Sequence[HttpResourceConfig]) -> tuple[ResourceSpec, ...]:
    return tuple(
        ResourceSpec(uri=r.uri, name=r.name, description=r.description, mime_type=r.mime_type)
        for r in declared
        if not r.variables()
    )


def template_specs(declared: Sequence[HttpResourceConfig]) -> tuple[ResourceTemplateSpec, ...]:
    return tuple(
        ResourceTemplateSpec(
            uri_template=r.uri, name=r.name, description=r.description, mime_type=r.mime_type
        )
        for r in declared
        if r.variables()
    )


def find(
    declared: Sequence[HttpResourceConfig], uri: str, connector: str
) -> tuple[HttpResourceConfig, dict[str, str]]:
    for resource in declared:
        values = resource.match(uri)
        if values is not None:
            return resource, values
    raise UnknownResource(f"upstream '{connector}' declares no resource '{uri[:200]}'")


def as_contents(uri: str, resource: HttpResourceConfig, output: ToolOutput) -> ResourceOutput:
    texts = [str(block.get("text", "")) for block in output.content if block.get("type") == "text"]
    return ResourceOutput(contents=[{"uri": uri, "mimeType": resource.mime_type, "text": "".join(texts)}])


def check_declared(declared: Sequence[HttpResourceConfig], tools: Mapping[str, Any]) -> None:
    """Each resource names a GET tool, and its variables are arguments of that tool."""
    for resource in declared:
        tool = tools.get(resource.tool)
        if tool is None or tool.method != "GET":
            raise ValueError(
                f"resource '{resource.uri}' names '{resource.tool}', which is not a declared GET tool"
            )
        known = set((tool.input_schema.get("properties") or {}).keys())
        unknown = [name for name in resource.variables() if name not in known]
        if unknown:
            raise ValueError(
                f"resource '{resource.uri}': {', '.join(unknown)} is not an argument "
                f"of tool '{resource.tool}'"
            )
