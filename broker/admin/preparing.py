"""The CPU-heavy part of registering a connector, run in a worker process (`broker.offload`).

Reading a connector body, importing an inline OpenAPI document, checking the result builds
and serialising it are seconds of pure Python for a big document; here they never touch the
gateway's event loop. The process gets the body's bytes and hands back a compact `Ready`
(the config to store as JSON text, its tool names, what the operator should know) or, for a
config that needs the network first (an mcp upstream to pin, an OpenAPI `spec_url` to fetch),
a `Pending` with the small validated config. Errors are raised as `BrokerError`s (located in
the body), which cross the process boundary whole.

A combined document (/admin/apply, `broker apply`) takes the same path: `read_document`
validates it and prepares each of its connectors that needs no network as `read_connector`
prepares one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

from broker.admin.bodies import parse_body
from broker.documents import Document, check, relocate, validate
from broker.errors import InvalidInput, Problem
from broker.offerings import Claims, claims_of
from broker.yamlsource import Located
from connectors.errors import ConnectorError
from connectors.http.connector import HttpConnectorConfig
from connectors.http.openapi import (
    OpenAPIConnectorConfig,
    OpenAPIImport,
    OpenAPILimits,
    convert_document,
    import_inline,
)
from connectors.registry import ConnectorConfig, ConnectorConfigAdapter, build


@dataclass(frozen=True, slots=True)
class Ready:
    """A config prepared without the network, ready to store once the gateway has checked its
    destination, secrets and tool names against the live catalog."""

    name: str
    kind: str
    stored: str
    """The config as JSON text, stored as it is."""
    claims: Claims
    """Every name it puts in the catalog (tools, prompts, resources), to check against the others."""
    secret_refs: frozenset[str]
    base_url: str
    allow_private_network: bool
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Pending:
    """A config that needs the network before it can be stored (small: no inline document)."""

    config: ConnectorConfig
    located: Located


@dataclass(frozen=True, slots=True)
class ReadDocument:
    """A combined document read: its sections, each connector prepared (`Ready`) or left for
    the gateway (a config that needs the network), and the source positions when `keep_located`
    asked for them (a big document's would cost more to carry back than to parse again)."""

    document: Document
    """The document without its connectors (they are in `connectors`, in the same order)."""
    connectors: list[Ready | ConnectorConfig]
    located: Located | None


def read_connector(body: bytes, is_yaml: bool, limits: OpenAPILimits) -> Ready | Pending:
    """Parse and validate a connector body; prepare it now unless it needs the network."""
    located = parse_body(body, is_yaml)
    config = check(ConnectorConfigAdapter.validate_python, located, source="the document")
    offline = prepare_offline(config, limits)
    return Pending(config, located) if offline is None else offline


def read_document(body: bytes, is_yaml: bool, limits: OpenAPILimits, keep_located: bool) -> ReadDocument:
    """Parse and validate a combined document; prepare every connector that needs no network.
    Problems of all its connectors are reported together, located in the body."""
    located = parse_body(body, is_yaml)
    document = validate(Document, located, source="the document")
    connectors: list[Ready | ConnectorConfig] = []
    problems: list[Problem] = []
    for i, config in enumerate(document.connectors):
        try:
            connectors.append(prepare_offline(config, limits) or config)
        except InvalidInput as exc:
            problems.append(Problem(("connectors", i), exc.message))
    if problems:
        raise InvalidInput("some connectors could not be prepared", problems=relocate(problems, located))
    return ReadDocument(
        document.model_copy(update={"connectors": []}), connectors, located if keep_located else None
    )


def prepare_offline(config: ConnectorConfig, limits: OpenAPILimits) -> Ready | None:
    """The config prepared, when that needs no network (an inline OpenAPI document, an http
    config); else None."""
    if isinstance(config, OpenAPIConnectorConfig) and config.spec is not None:
        inline = config
        return _ready(lambda: import_inline(inline, limits))
    if isinstance(config, HttpConnectorConfig):
        http = config
        return _ready(lambda: OpenAPIImport(http))
    return None


def convert_fetched(
    config: OpenAPIConnectorConfig, document: bytes, spec_url: str, limits: OpenAPILimits
) -> Ready:
    """Import a fetched OpenAPI document (the bytes of `spec_url`)."""
    return _ready(lambda: convert_document(config, document, spec_url, limits))


def _ready(imported: Callable[[], OpenAPIImport]) -> Ready:
    try:
        run = imported()
        prepared = run.config
        connector = build(prepared)
    except ConnectorError as exc:
        raise InvalidInput(exc.message) from None
    try:
        return Ready(
            name=prepared.name,
            kind=prepared.kind,
            stored=ConnectorConfigAdapter.dump_json(prepared).decode(),
            claims=claims_of(connector),
            secret_refs=frozenset(connector.secret_refs()),
            base_url=prepared.base_url,
            allow_private_network=prepared.allow_private_network,
            warnings=run.warnings,
        )
    finally:
        asyncio.run(connector.aclose())
