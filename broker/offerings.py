"""What connectors put in the catalog besides tools (resources, templates, prompts), under which
names, and the rules that keep two connectors from ever claiming the same one.

Names. A connector's offerings are shown in its namespace: resources as
`broker://<connector>/<uri>` (broker/uris.py), prompts as `<connector>.<prompt>`. An mcp
connector with `prefix: false` keeps the upstream's own names and URIs verbatim, so a client
sees exactly what it would see connected to the upstream directly (`own_names`).

Uniqueness. Names in a namespace never collide. Verbatim names can: registration refuses a
connector whose prompts, resource URIs or URI templates another connector claims too
(`offering_conflicts`, over what each has pinned and lists now). An upstream's listing still
changes after registration, so building a snapshot applies the same rules first-come in
connector order (`merge_offerings`): a clashing item of a later connector is left out and
logged, never shown twice, so a client can always read back exactly what it was listed.
A verbatim URI or template in the gateway's own `broker://` scheme is always left out.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import mcp_types as types

from broker.catalog import CatalogPrompt, CatalogResource, CatalogTemplate, claimed_names
from broker.names import own_names
from broker.uris import SCHEME, gateway_uri, literal_prefix, template_matches
from connectors.base import (
    Connector,
    OffersPrompts,
    OffersResources,
    PromptSpec,
    ResourceSpec,
    ResourceTemplateSpec,
)
from connectors.mcp import McpConnector, McpConnectorConfig, OfferingPins, exposed_name

log = logging.getLogger(__name__)


def shown_uri(name: str, connector: Connector | None) -> Callable[[str], str]:
    """How a connector's local URIs are shown to clients: in its namespace, or verbatim."""
    if connector is not None and own_names(connector):
        return lambda local: local
    return lambda local: gateway_uri(name, local)


def catalog_resource(connector: str, spec: ResourceSpec, verbatim: bool = False) -> CatalogResource:
    uri = spec.uri if verbatim else gateway_uri(connector, spec.uri)
    fields = {**spec.extra, "uri": uri, "name": spec.name}
    fields.update(_present(description=spec.description, mimeType=spec.mime_type))
    return CatalogResource(uri, connector, spec.uri, types.Resource.model_validate(fields), verbatim)


def catalog_template(connector: str, spec: ResourceTemplateSpec, verbatim: bool = False) -> CatalogTemplate:
    template = spec.uri_template if verbatim else gateway_uri(connector, spec.uri_template)
    fields = {**spec.extra, "uriTemplate": template, "name": spec.name}
    fields.update(_present(description=spec.description, mimeType=spec.mime_type))
    definition = types.ResourceTemplate.model_validate(fields)
    return CatalogTemplate(template, connector, spec.uri_template, definition, verbatim)


def catalog_prompt(connector: str, spec: PromptSpec, verbatim: bool = False) -> CatalogPrompt:
    name = spec.name if verbatim else f"{connector}.{spec.name}"
    fields = {**spec.extra, "name": name}
    fields.update(_present(description=spec.description, arguments=list(spec.arguments) or None))
    return CatalogPrompt(name, connector, spec, types.Prompt.model_validate(fields), verbatim)


def _present(**values: Any) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}


@dataclass(frozen=True, slots=True)
class Offerings:
    """What a connector puts in the catalog besides tools."""

    resources: list[CatalogResource] = field(default_factory=list)
    templates: list[CatalogTemplate] = field(default_factory=list)
    prompts: list[CatalogPrompt] = field(default_factory=list)


def connector_offerings(name: str, connector: Connector) -> Offerings:
    """The resources, templates and prompts of a connector that offers them (none otherwise)."""
    offered = Offerings()
    verbatim = own_names(connector)
    if isinstance(connector, OffersResources):
        offered.resources.extend(catalog_resource(name, s, verbatim) for s in connector.resources())
        offered.templates.extend(catalog_template(name, s, verbatim) for s in connector.resource_templates())
    if isinstance(connector, OffersPrompts):
        offered.prompts.extend(catalog_prompt(name, s, verbatim) for s in connector.prompts())
    return offered


def merge_offerings(per_connector: Sequence[Offerings], connectors: Iterable[str]) -> Offerings:
    """Every connector's offerings in one catalog, in connector order; an item that clashes with
    one already taken (the same prompt name or URI, a URI template that may produce the same
    URIs, a verbatim name inside another connector's namespace) is left out and logged."""
    names = set(connectors)
    merged = Offerings()
    prompts: dict[str, str] = {}
    uris: dict[str, str] = {}
    for offered in per_connector:
        for prompt in offered.prompts:
            clash = _prompt_clash(prompt.name, prompt.connector, prompt.verbatim, prompts, names)
            if _kept(clash, "prompt", prompt.name, prompt.connector):
                prompts[prompt.name] = prompt.connector
                merged.prompts.append(prompt)
        for resource in offered.resources:
            clash = _uri_clash(resource.uri, resource.connector, resource.verbatim, uris)
            if _kept(clash, "resource", resource.uri, resource.connector):
                uris[resource.uri] = resource.connector
                merged.resources.append(resource)
        for template in offered.templates:
            clash = _template_clash(template, merged.templates)
            if _kept(clash, "resource template", template.uri_template, template.connector):
                merged.templates.append(template)
    return merged


def _kept(clash: str | None, kind: str, name: str, connector: str) -> bool:
    if clash is not None:
        log.warning("%s '%s' of connector '%s' is left out: %s", kind, name, connector, clash)
    return clash is None


def _prompt_clash(
    name: str, connector: str, verbatim: bool, taken: Mapping[str, str], connectors: set[str]
) -> str | None:
    if name in taken:
        return f"connector '{taken[name]}' has a prompt of that name"
    namespace, dot, _ = name.partition(".")
    if verbatim and dot and namespace != connector and namespace in connectors:
        return f"it is named like a prompt of connector '{namespace}'"
    return None


def _uri_clash(uri: str, connector: str, verbatim: bool, taken: Mapping[str, str]) -> str | None:
    if verbatim and uri.startswith(SCHEME):
        return f"its URI is in the gateway's own '{SCHEME}' scheme"
    if uri in taken:
        return f"connector '{taken[uri]}' has a resource with that URI"
    return None


def _template_clash(template: CatalogTemplate, taken: Iterable[CatalogTemplate]) -> str | None:
    if not template.verbatim:
        return None  # inside its connector's namespace
    if template.uri_template.startswith(SCHEME):
        return f"its URI template is in the gateway's own '{SCHEME}' scheme"
    for other in taken:
        if (
            other.verbatim
            and other.connector != template.connector
            and templates_overlap(template.uri_template, other.uri_template)
        ):
            return f"it may produce the same URIs as '{other.uri_template}' of connector '{other.connector}'"
    return None


def templates_overlap(one: str, other: str) -> bool:
    """Whether two URI templates may produce the same URI: the text before the first variable of
    one begins the other's (conservative, and easy to explain to an operator)."""
    first, second = literal_prefix(one), literal_prefix(other)
    return first.startswith(second) or second.startswith(first)


@dataclass(frozen=True, slots=True)
class Claims:
    """Every name a connector may put in the catalog: its tools (quarantined ones too), and the
    prompts, resource URIs and URI templates it lists now or pinned at registration."""

    tools: tuple[str, ...] = ()
    prompts: tuple[str, ...] = ()
    resources: tuple[str, ...] = ()
    templates: tuple[str, ...] = ()
    verbatim: bool = False


def claims_of(connector: Connector) -> Claims:
    offered = connector_offerings(connector.name, connector)
    pinned = config_claims(connector.config) if isinstance(connector, McpConnector) else Claims()
    return Claims(
        tools=tuple(claimed_names(connector)),
        prompts=_unique(*(item.name for item in offered.prompts), *pinned.prompts),
        resources=_unique(*(item.uri for item in offered.resources), *pinned.resources),
        templates=_unique(*(item.uri_template for item in offered.templates), *pinned.templates),
        verbatim=own_names(connector),
    )


def config_claims(config: McpConnectorConfig) -> Claims:
    """What an mcp config claims by what it pinned (no network)."""
    pins = config.offering_pins or OfferingPins()

    def show(local: str) -> str:
        return local if not config.prefix else gateway_uri(config.name, local)

    return Claims(
        tools=tuple(exposed_name(config, tool.name) for tool in config.tools or ()),
        prompts=tuple(name if not config.prefix else f"{config.name}.{name}" for name in pins.prompts),
        resources=tuple(map(show, pins.resources)),
        templates=tuple(map(show, pins.templates)),
        verbatim=not config.prefix,
    )


def _unique(*names: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(names))


def offering_conflicts(incoming: Mapping[str, Claims], others: Mapping[str, Claims]) -> dict[str, list[str]]:
    """Why the `incoming` connectors' prompts, resources and templates cannot join the `others`,
    per incoming connector (empty lists left out)."""
    claims = {**others, **incoming}
    found: dict[str, list[str]] = {}
    for name in incoming:
        mine = claims[name]
        problems: list[str] = []
        for other, theirs in claims.items():
            if other != name:
                problems += _pair_problems(name, mine, other, theirs)
        if mine.verbatim:
            problems += [
                f"its resource '{uri}' is in the gateway's own '{SCHEME}' scheme"
                for uri in (*mine.resources, *mine.templates)
                if uri.startswith(SCHEME)
            ]
        if problems:
            found[name] = problems
    return found


def _pair_problems(name: str, mine: Claims, other: str, theirs: Claims) -> list[str]:
    problems = [
        f"its prompt '{prompt}' is also a prompt of connector '{other}'"
        for prompt in sorted(set(mine.prompts) & set(theirs.prompts))
    ]
    problems += [
        f"its prompt '{prompt}' is named like a prompt of connector '{other}' (prefix '{other}.')"
        for prompt in mine.prompts
        if mine.verbatim and prompt.partition(".")[0] == other and "." in prompt
    ]
    problems += [
        f"its resource '{uri}' is also a resource of connector '{other}'"
        for uri in sorted(set(mine.resources) & set(theirs.resources))
    ]
    if mine.verbatim and theirs.verbatim:
        problems += [
            f"its resource template '{template}' may produce the same URIs as template '{their}' of "
            f"connector '{other}'"
            for template in mine.templates
            for their in theirs.templates
            if templates_overlap(template, their)
        ]
        problems += [
            f"its resource '{uri}' is produced by the resource template '{their}' of connector '{other}'"
            for uri in mine.resources
            for their in theirs.templates
            if template_matches(their, uri)
        ]
        problems += [
            f"its resource template '{template}' produces the resource '{uri}' of connector '{other}'"
            for template in mine.templates
            for uri in theirs.resources
            if template_matches(template, uri)
        ]
    return problems
