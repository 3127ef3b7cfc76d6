"""The names connectors claim in the catalog, and why two connectors' names cannot live side by side.

An agent sees a tool as `<connector>.<tool>`, except on an upstream MCP server registered with
`prefix: false`, whose own names (and URIs) are shown as they are.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from connectors.base import Connector
from connectors.mcp import McpConnector


def own_names(connector: Connector) -> bool:
    """Whether the connector shows the upstream's own names and URIs (mcp with `prefix: false`)."""
    return isinstance(connector, McpConnector) and not connector.config.prefix


def qualified_name(connector: Connector, tool: str) -> str:
    """The name agents see: the connector's own `exposed_name(tool)` when it offers one
    (an upstream MCP server with `prefix: false`), else `<connector>.<tool>`."""
    exposed = getattr(connector, "exposed_name", None)
    return str(exposed(tool)) if callable(exposed) else f"{connector.name}.{tool}"


def name_conflicts(
    incoming: Mapping[str, Iterable[str]], others: Mapping[str, Iterable[str]]
) -> dict[str, list[str]]:
    """Why the `incoming` connectors (name -> tool names) cannot join the `others`, per
    incoming connector: a tool name another connector has too, or a name inside another
    connector's namespace ('crm.x' offered by anything but connector 'crm')."""
    claims = {name: set(tools) for name, tools in {**others, **incoming}.items()}
    found: dict[str, list[str]] = {}
    for connector in incoming:
        problems = found.setdefault(connector, [])
        for other, names in claims.items():
            if other == connector:
                continue
            problems += [
                f"its tool '{name}' is also a tool of connector '{other}'"
                for name in sorted(claims[connector] & names)
            ]
            problems += [
                f"its tool '{name}' is named like a tool of connector '{other}' (prefix '{other}.')"
                for name in sorted(claims[connector])
                if _namespace(name) == other
            ]
            problems += [
                f"connector '{other}' has a tool '{name}' that is named like one of its tools "
                f"(prefix '{connector}.')"
                for name in sorted(names)
                if _namespace(name) == connector
            ]
    return {name: problems for name, problems in found.items() if problems}


def _namespace(name: str) -> str | None:
    prefix, dot, _ = name.partition(".")
    return prefix if dot else None
