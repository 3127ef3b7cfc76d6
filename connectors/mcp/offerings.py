"""An upstream MCP server's resources, resource templates and prompts, listed and kept.

The connector lists them with its tools (at start, on `list_changed`, every `recheck_seconds`
when a call comes) from upstreams whose capabilities declare them, and keeps the last
listing: `resources()`, `resource_templates()` and `prompts()` answer from it without the
network, so the broker can put them in its catalog snapshot. Prompt descriptions are scanned
like tool descriptions, and the findings logged for operators.

Registration pins what a model reads of each (`OfferingPins`), and `review` holds back what
changed since, like a changed tool (`broker connectors diff/approve`).

Reads, gets and completions go to the upstream over the caller's session; every answer is
bounded by `max_response_bytes` and has the session's secrets scrubbed out.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import mcp_types as types
from mcp.client.client import Client
from mcp.shared.exceptions import MCPError
from pydantic import BaseModel

from connectors.base import (
    CompletionOutput,
    CompletionRef,
    PromptOutput,
    PromptSpec,
    ResourceOutput,
    ResourceSpec,
    ResourceTemplateSpec,
)
from connectors.errors import InvalidRequest, UnknownPrompt, UnknownResource, UpstreamBadResponse
from connectors.mcp.pins import OfferingPins, offering_pin
from connectors.mcp.scan import scan_text
from connectors.mcp.session import size_text
from connectors.scrub import Scrubber

log = logging.getLogger(__name__)

MAX_PAGES = 100
"""Pages of one listing followed; a paginator that never ends cannot hang a call."""

T = TypeVar("T")
Page = TypeVar("Page", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class Listing:
    """What one listing found (empty for what the upstream does not offer)."""

    resources: tuple[ResourceSpec, ...] = ()
    templates: tuple[ResourceTemplateSpec, ...] = ()
    prompts: tuple[PromptSpec, ...] = ()
    prompt_names: frozenset[str] = field(default_factory=frozenset)


EMPTY = Listing()


async def list_offerings(client: Client, upstream: str) -> Listing:
    """Every page of resources, templates and prompts the upstream's capabilities declare."""
    capabilities = client.server_capabilities
    resources: list[ResourceSpec] = []
    templates: list[ResourceTemplateSpec] = []
    prompts: list[PromptSpec] = []
    if capabilities.resources is not None:
        for page in await _pages(upstream, "resources/list", lambda c: client.list_resources(cursor=c)):
            assert isinstance(page, types.ListResourcesResult)
            resources += [_resource(item) for item in page.resources]
        for page in await _pages(
            upstream, "resources/templates/list", lambda c: client.list_resource_templates(cursor=c)
        ):
            assert isinstance(page, types.ListResourceTemplatesResult)
            templates += [_template(item) for item in page.resource_templates]
    if capabilities.prompts is not None:
        for page in await _pages(upstream, "prompts/list", lambda c: client.list_prompts(cursor=c)):
            assert isinstance(page, types.ListPromptsResult)
            prompts += [_prompt(upstream, item) for item in page.prompts]
    names = frozenset(prompt.name for prompt in prompts)
    return Listing(tuple(resources), tuple(templates), tuple(prompts), names)


async def _pages(upstream: str, method: str, fetch: Callable[[str | None], Awaitable[Any]]) -> list[Any]:
    pages: list[Any] = []
    cursor: str | None = None
    for _ in range(MAX_PAGES):
        try:
            page = await fetch(cursor)
        except MCPError as exc:
            if exc.error.code != types.METHOD_NOT_FOUND:
                raise
            # It declares the capability but not this list (resources without templates/list,
            # common in older servers): nothing of this kind, the rest of the listing stands.
            log.info("upstream '%s' does not implement %s: taken as empty", upstream, method)
            return []
        pages.append(page)
        if not page.next_cursor or page.next_cursor == cursor:
            return pages
        cursor = page.next_cursor
    raise UpstreamBadResponse(f"upstream '{upstream}' paginated {method} past {MAX_PAGES} pages")


def _plain(item: BaseModel) -> dict[str, Any]:
    plain: dict[str, Any] = item.model_dump(by_alias=True, mode="json", exclude_none=True)
    return plain


def _extra(item: BaseModel, *taken: str) -> dict[str, Any]:
    """The MCP fields beyond those a spec names, camelCase, `_meta` included."""
    data: dict[str, Any] = item.model_dump(by_alias=True, mode="json", exclude_none=True)
    for name in taken:
        data.pop(name, None)
    return data


def _resource(item: types.Resource) -> ResourceSpec:
    return ResourceSpec(
        uri=item.uri,
        name=item.name,
        description=item.description,
        mime_type=item.mime_type,
        extra=_extra(item, "uri", "name", "description", "mimeType"),
    )


def _template(item: types.ResourceTemplate) -> ResourceTemplateSpec:
    return ResourceTemplateSpec(
        uri_template=item.uri_template,
        name=item.name,
        description=item.description,
        mime_type=item.mime_type,
        extra=_extra(item, "uriTemplate", "name", "description", "mimeType"),
    )


def _prompt(upstream: str, item: types.Prompt) -> PromptSpec:
    findings = scan_text(item.description or "")
    if findings:
        log.warning(
            "prompt '%s' of upstream '%s' has a suspicious description: %s", item.name, upstream, findings
        )
    arguments = [a.model_dump(by_alias=True, mode="json", exclude_none=True) for a in item.arguments or ()]
    return PromptSpec(
        name=item.name,
        description=item.description,
        arguments=arguments,
        extra=_extra(item, "name", "description", "arguments"),
    )


def read_result(
    result: types.ReadResourceResult, limit: int, scrub: Scrubber, upstream: str
) -> ResourceOutput:
    contents = [item.model_dump(by_alias=True, mode="json", exclude_none=True) for item in result.contents]
    cleaned = _bounded(contents, limit, scrub, upstream)
    return ResourceOutput(contents=cleaned, meta=dict(result.meta or {}))


def prompt_result(result: types.GetPromptResult, limit: int, scrub: Scrubber, upstream: str) -> PromptOutput:
    messages = [
        message.model_dump(by_alias=True, mode="json", exclude_none=True) for message in result.messages
    ]
    cleaned = _bounded(messages, limit, scrub, upstream)
    description = scrub.text(result.description) if result.description and scrub else result.description
    return PromptOutput(messages=cleaned, description=description, meta=dict(result.meta or {}))


def completion_result(result: types.CompleteResult, scrub: Scrubber) -> CompletionOutput:
    completion = result.completion
    values = [scrub.text(value) for value in completion.values[:100]] if scrub else completion.values[:100]
    return CompletionOutput(
        values=values, total=completion.total, has_more=completion.has_more, meta=dict(result.meta or {})
    )


def _bounded(value: list[dict[str, Any]], limit: int, scrub: Scrubber, upstream: str) -> list[dict[str, Any]]:
    text = json.dumps(value, ensure_ascii=False)
    if len(text.encode()) > limit:
        raise UpstreamBadResponse(
            f"upstream '{upstream}' sent more than the {size_text(limit)} response limit (max_response_bytes)"
        )
    cleaned: list[dict[str, Any]] = scrub.json(value, text) if scrub else value
    return cleaned


def reference(ref: CompletionRef) -> types.PromptReference | types.ResourceTemplateReference:
    if ref.kind == "prompt":
        return types.PromptReference(type="ref/prompt", name=ref.name)
    return types.ResourceTemplateReference(type="ref/resource", uri=ref.name)


def refused(exc: MCPError, what: str, kind: str, scrub: Scrubber) -> Exception | None:
    """The connector error for an upstream's JSON-RPC refusal of a read or a get, or None when
    it is not one (the caller reports it as an upstream failure)."""
    message = scrub.text(exc.error.message) if scrub else exc.error.message
    if exc.error.code in (types.INVALID_PARAMS, -32002):  # -32002: resource not found before 2025-11-25
        if kind == "resource":
            return UnknownResource(f"{what}: {message}")
        if kind == "prompt":
            return (
                UnknownPrompt(f"{what}: {message}")
                if "unknown" in message.lower()
                else InvalidRequest(f"{what}: {message}")
            )
        return InvalidRequest(f"{what}: {message}")
    return None


def arguments_of(arguments: Mapping[str, Any]) -> dict[str, str]:
    return {str(name): str(value) for name, value in arguments.items()}


@dataclass(frozen=True, slots=True)
class HeldOffering:
    """A resource, template or prompt held back until an operator reviews it."""

    kind: str
    """'resource', 'template' or 'prompt'."""
    name: str
    """The upstream's URI, URI template or prompt name."""
    status: str
    """'changed' (differs from its pin), 'new' (not pinned), 'flagged' (a new resource whose
    description the scanner flags)."""
    live: dict[str, Any]
    live_pin: str
    findings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Reviewed:
    """A listing as agents may see it, and what it holds back."""

    exposed: Listing
    held: tuple[HeldOffering, ...] = ()


def review(listing: Listing, pins: OfferingPins | None, expose_new: bool) -> Reviewed:
    """Hold back what changed since it was approved, like a changed tool: a prompt or template
    whose pin differs, or that is new (unless `expose_new`); a resource whose pin differs, or a
    new one whose description the scanner flags (resources are data that come and go, so new
    ones are shown otherwise). `pins` None: registered before offerings were pinned; all shown."""
    if pins is None:
        return Reviewed(listing)
    held: list[HeldOffering] = []

    def kept(
        kind: str,
        name: str,
        spec: ResourceSpec | ResourceTemplateSpec | PromptSpec,
        pinned: Mapping[str, str],
    ) -> bool:
        live_pin = offering_pin(spec)
        findings = tuple(scan_text(spec.description or ""))
        if name in pinned:
            status = None if pinned[name] == live_pin else "changed"
        elif kind == "resource":
            status = "flagged" if findings else None
        else:
            status = None if expose_new and not findings else "new"
        if status is None:
            return True
        held.append(HeldOffering(kind, name, status, _described(spec), live_pin, findings))
        return False

    resources = tuple(s for s in listing.resources if kept("resource", s.uri, s, pins.resources))
    templates = tuple(s for s in listing.templates if kept("template", s.uri_template, s, pins.templates))
    prompts = tuple(s for s in listing.prompts if kept("prompt", s.name, s, pins.prompts))
    exposed = Listing(resources, templates, prompts, frozenset(p.name for p in prompts))
    return Reviewed(exposed, tuple(held))


def _described(spec: ResourceSpec | ResourceTemplateSpec | PromptSpec) -> dict[str, Any]:
    shown: dict[str, Any] = {"name": spec.name, "description": spec.description, **spec.extra}
    if isinstance(spec, PromptSpec):
        shown["arguments"] = [dict(argument) for argument in spec.arguments]
    else:
        shown["mimeType"] = spec.mime_type
    return {key: value for key, value in shown.items() if value is not None}
