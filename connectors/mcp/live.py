"""What an upstream listed last, held against the pins: the tools agents may see and call.

Agents see only the pinned definitions. A tool whose live definition no longer hashes to its
pin, or that the upstream stopped listing, is quarantined until an operator approves the
difference; with `expose_new_tools` a tool added upstream is shown as first seen, and
quarantined if it changes after that.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping, Sequence
from typing import Any

from connectors.base import ToolSpec
from connectors.errors import ConnectorError, UnknownTool
from connectors.mcp.config import McpConnectorConfig
from connectors.mcp.offerings import EMPTY, Listing, Reviewed, review
from connectors.mcp.pins import Definition, Drift, Listed, PinnedTool, compute_drift


class ToolQuarantined(ConnectorError):
    """The tool's upstream definition no longer matches its pin; calls wait for an operator."""


class LiveTools:
    """The last listing of one upstream (tools, their task support, resources and prompts)."""

    def __init__(self, config: McpConnectorConfig) -> None:
        assert config.tools is not None
        self.config = config
        self.pinned = {tool.name: tool for tool in config.tools}
        self._pins = dict(config.pins)
        self._live: dict[str, tuple[Definition, str]] | None = None
        self._execution: dict[str, dict[str, Any]] = {}
        """Each live tool's `execution` (task support): listed as the upstream says, not pinned."""
        self._first_seen: dict[str, str] = {}
        self.listed_at = float("-inf")
        self.stale = True
        """An upstream announced a change, or a session was lost: list before the next call."""
        self.version = 0
        """Bumped when a listing changes what `drift()` and `tools()` report."""
        self.unusable: tuple[str, ...] = ()
        """Upstream tools left out of the last listing: their exposed name is not a valid MCP name."""
        self.offerings: Listing = EMPTY
        """Resources, templates and prompts as of the last listing (connectors/mcp/offerings.py)."""
        self.reviewed: Reviewed = Reviewed(EMPTY)
        """`offerings` as agents may see them, and what is held for review (offerings.review)."""

    def due(self) -> bool:
        """Whether a call must list the upstream first (a change announced, or `recheck_seconds` past)."""
        return self.stale or time.monotonic() - self.listed_at >= self.config.recheck_seconds

    def tools(self) -> Sequence[ToolSpec]:
        """The pinned definitions minus quarantined tools (plus, with `expose_new_tools`, new
        tools as first seen), never a live definition of a pinned tool."""
        drift = self.drift()
        specs = [tool.spec() for tool in self.pinned.values() if tool.name not in drift.quarantined]
        if self.config.expose_new_tools and self._live is not None:
            for name in drift.new:
                definition, pin = self._live[name]
                if self._first_seen.setdefault(name, pin) == pin:
                    specs.append(PinnedTool.from_definition(definition).spec())
        if self._live is None:  # not listed yet: task support as recorded at registration
            return specs
        return [dataclasses.replace(spec, execution=self._execution.get(spec.name)) for spec in specs]

    def drift(self) -> Drift:
        """Live definitions against the pins, as of the last listing (`checked` False before one)."""
        if self._live is None:
            return Drift()
        return compute_drift(self._pins, _pins(self._live))

    def listed(self) -> list[PinnedTool]:
        """The last listing's tools, sorted by name, with their task support."""
        assert self._live is not None
        return [
            PinnedTool.from_definition(self._live[name][0]).model_copy(
                update={"execution": self._execution.get(name)}
            )
            for name in sorted(self._live)
        ]

    def check(self, tool: str, upstream: str) -> None:
        """Raise unless `tool` may be called as the last listing stands."""
        live = self._live or {}
        where = f"tool '{tool}' of upstream '{upstream}' is quarantined pending review"
        if tool in self.pinned:
            if tool not in live:
                raise ToolQuarantined(f"{where}: the upstream no longer lists it")
            if live[tool][1] != self._pins[tool]:
                raise ToolQuarantined(
                    f"{where}: its definition changed upstream since it was pinned; "
                    "an operator must review and approve the change"
                )
            return
        if tool not in live:
            raise UnknownTool(f"upstream '{upstream}' has no tool '{tool}'")
        if self._first_seen.setdefault(tool, live[tool][1]) != live[tool][1]:
            raise ToolQuarantined(f"{where}: its definition changed upstream since it was first seen")

    def update(self, listed: Listed, offerings: Listing) -> None:
        """Take a new listing (its tools already read off the loop, no name listed twice)."""
        live, execution = listed.live, listed.execution
        changed = self._live is None or _pins(self._live) != _pins(live) or execution != self._execution
        if changed or offerings != self.offerings:
            self.version += 1
        self._execution = execution
        self._live, self.unusable = live, tuple(sorted(listed.unusable))
        self.offerings = offerings
        self.reviewed = review(offerings, self.config.offering_pins, self.config.expose_new_tools)
        self.listed_at = time.monotonic()


def _pins(live: Mapping[str, tuple[Definition, str]]) -> dict[str, str]:
    return {name: pin for name, (_, pin) in live.items()}
