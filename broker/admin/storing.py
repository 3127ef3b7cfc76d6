"""What the gateway checks of a prepared connector config before storing it, and what it stores.

A config prepared in a worker process (`broker.admin.preparing.Ready`) arrives as JSON text;
only the checks that need this process (its destination, resolved now; the secrets it names,
against the store) run here, and the text is stored as it is. A config prepared here (an mcp
upstream pinned over the network) is dumped in a worker thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from broker.admin.preparing import Ready
from broker.admin.registration import flag_warnings
from broker.errors import InvalidInput, Problem
from broker.offerings import Claims
from broker.secrets import service as secret_service
from broker.store.db import JsonText, load_json
from connectors.errors import ConnectorError
from connectors.netguard import refuse_private_destination
from connectors.registry import ConnectorConfig


@dataclass(frozen=True, slots=True)
class ToStore:
    """A connector config as it is stored, what it claims in the catalog, and notes for the operator."""

    name: str
    kind: str
    stored: dict[str, Any] | JsonText
    claims: Claims
    warnings: list[str]

    @property
    def tools(self) -> list[str]:
        return list(self.claims.tools)


async def check_ready(ready: Ready, known: Collection[str], loc: tuple[str | int, ...] = ()) -> ToStore:
    """Refuse a prepared config whose destination is private (unless allowed) or that names
    secrets not in `known`; problems are placed under `loc`, without line and column."""
    try:
        await refuse_private_destination(ready.name, ready.base_url, ready.allow_private_network)
    except ConnectorError as exc:
        raise InvalidInput(exc.message, problems=[Problem(loc, exc.message)] if loc else []) from None
    if ready.secret_refs - set(known):  # the stored text is parsed only to say where each one is named
        config = await asyncio.to_thread(load_json, ready.stored)
        secret_service.check_references(config, ready.secret_refs, known, loc)
    return ToStore(ready.name, ready.kind, JsonText(ready.stored), ready.claims, ready.warnings)


async def dumped(config: ConnectorConfig, claims: Claims, warnings: list[str]) -> ToStore:
    """A config prepared in this process, as stored (a pinned mcp config may be big: dumped
    in a worker thread), with the hidden-instruction findings added to its warnings."""
    stored = await asyncio.to_thread(config.model_dump, mode="json")
    return ToStore(config.name, config.kind, stored, claims, [*warnings, *flag_warnings(config)])
