"""`broker connectors ...`: register upstreams and look at their tools."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from broker.cli import presets, review
from broker.cli.context import Context, Subcommands, base_dir, command, group, invalid_file, read_text
from broker.cli.errors import CliError
from broker.cli.output import short_time

if TYPE_CHECKING:
    from broker.yamlsource import Located


def register(commands: Subcommands[argparse.ArgumentParser], leaf: argparse.ArgumentParser) -> None:
    connectors = group(commands, "connectors", "register upstreams and list their tools")
    parser = command(connectors, leaf, "add", add, "register a connector from a YAML or JSON file")
    parser.add_argument("-f", "--file", required=True, help="one connector config; '-' reads stdin")
    parser.add_argument("--replace", action="store_true", help="replace a connector of the same name")

    parser = command(
        connectors,
        leaf,
        "import-openapi",
        import_openapi,
        "register an OpenAPI document's operations as tools",
    )
    parser.add_argument("name", help="connector name; tools are named NAME.<operation>")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--spec", metavar="FILE", help="the OpenAPI 3.x document (JSON or YAML)")
    source.add_argument("--spec-url", metavar="URL", help="where the gateway fetches the document")
    parser.add_argument("--base-url", help="upstream base URL (default: the document's first server)")
    parser.add_argument("--include", nargs="+", default=[], metavar="GLOB", help="only these operationIds")
    parser.add_argument("--exclude", nargs="+", default=[], metavar="GLOB", help="skip these operationIds")
    parser.add_argument(
        "--allow-private-network",
        action="store_true",
        help="let it reach loopback/private addresses (refused by default: SSRF protection)",
    )
    parser.add_argument("--replace", action="store_true", help="replace a connector of the same name")

    command(connectors, leaf, "list", list_connectors, "list connectors")
    parser = command(connectors, leaf, "show", show, "show a connector's config and tools")
    parser.add_argument("name")
    parser = command(connectors, leaf, "tools", tools, "list a connector's tools")
    parser.add_argument("name")
    parser = command(connectors, leaf, "remove", remove, "remove a connector")
    parser.add_argument("name")
    presets.register(connectors, leaf)
    review.register(connectors, leaf)


def add(ctx: Context) -> int:
    from broker.documents import check, parse_connector
    from broker.errors import InvalidInput
    from connectors.registry import ConnectorConfigAdapter

    path = ctx.args.file
    try:
        located = parse_connector(read_text(path), source=path, base_dir=base_dir(path))
        config = check(ConnectorConfigAdapter.validate_python, located, source=path)
    except InvalidInput as exc:
        raise invalid_file(exc, path) from None
    return _register(ctx, config.model_dump(mode="json", exclude_unset=True), (path, located))


def import_openapi(ctx: Context) -> int:
    from broker.documents import check, read_spec_file
    from broker.errors import InvalidInput
    from broker.yamlsource import Located
    from connectors.registry import ConnectorConfigAdapter

    args = ctx.args
    body: dict[str, Any] = {
        "kind": "openapi",
        "name": args.name,
        "include": args.include,
        "exclude": args.exclude,
    }
    if args.allow_private_network:
        body["allow_private_network"] = True
    if args.base_url:
        body["base_url"] = args.base_url
    try:
        if args.spec:
            body["spec"] = read_spec_file(Path(args.spec), Located(None), ("spec",), "--spec")
        else:
            body["spec_url"] = args.spec_url
        check(ConnectorConfigAdapter.validate_python, Located(body), source="the connector")
    except InvalidInput as exc:
        raise CliError(exc.message, problems=exc.problems) from None
    return _register(ctx, body, None)


def _register(ctx: Context, body: dict[str, Any], origin: tuple[str, Located] | None) -> int:
    try:
        result = ctx.client.post("/admin/connectors", body, replace="true" if ctx.args.replace else None)
    except CliError as exc:
        if (
            origin is None
            and "allow_private_network" in exc.message
            and not body.get("allow_private_network")
        ):
            exc.message += " (on the command line: --allow-private-network)"
        raise (exc.within(*origin) if origin else exc) from None
    if ctx.out.as_json:
        ctx.out.json(result)
        return 0
    count = len(result["tools"])
    ctx.out.line(f"{result['result']} connector {result['name']} ({count} tool{'' if count == 1 else 's'})")
    for tool in result["tools"]:
        ctx.out.line(f"  {tool}")
    _warnings(ctx, result.get("warnings", []))
    return 0


def list_connectors(ctx: Context) -> int:
    rows = ctx.client.get("/admin/connectors")
    if ctx.out.as_json:
        ctx.out.json(rows)
        return 0
    table = [[r["name"], r["kind"], r["tool_count"], r["loaded"], r["description"]] for r in rows]
    headers = ["name", "kind", "tools", "loaded", "description"]
    ctx.out.table(headers, table, empty="no connectors yet: `broker connectors add -f FILE` registers one")
    return 0


def show(ctx: Context) -> int:
    found = ctx.client.get(f"/admin/connectors/{ctx.args.name}")
    if ctx.out.as_json:
        ctx.out.json(found)
        return 0
    config = found["config"]
    ctx.out.line(f"name:        {found['name']}")
    ctx.out.line(f"kind:        {found['kind']}")
    ctx.out.line(f"description: {found['description'] or '-'}")
    if found["kind"] == "mcp":
        ctx.out.line(f"upstream:    {config.get('url') or ' '.join(config.get('command') or ['-'])}")
    else:
        ctx.out.line(f"base_url:    {config.get('base_url', '-')}")
    ctx.out.line(f"updated:     {short_time(found['updated_at'])}")
    if not found["loaded"]:
        ctx.out.line("status:      NOT LOADED (the stored config does not build; see the gateway log)")
    ctx.out.line("")
    _tool_table(ctx, found["tools"])
    _warnings(ctx, found.get("warnings", []))
    return 0


def tools(ctx: Context) -> int:
    found = ctx.client.get(f"/admin/connectors/{ctx.args.name}/tools")
    if ctx.out.as_json:
        ctx.out.json(found)
    else:
        _tool_table(ctx, found)
    return 0


def _warnings(ctx: Context, warnings: list[str]) -> None:
    """Scanner findings on upstream MCP tools: review them before granting the tools."""
    for warning in warnings:
        ctx.out.line(f"warning: {warning}")


def _tool_table(ctx: Context, found: list[dict[str, Any]]) -> None:
    rows = []
    for tool in found:
        annotations = tool.get("annotations") or {}
        mode = "read-only" if annotations.get("readOnlyHint") else "writes"
        summary = (tool["description"] or "").strip().split("\n", 1)[0]
        rows.append([tool["name"], mode, summary])
    ctx.out.table(["tool", "mode", "description"], rows, empty="no tools")


def remove(ctx: Context) -> int:
    ctx.client.delete(f"/admin/connectors/{ctx.args.name}")
    if ctx.out.as_json:
        ctx.out.json({"removed": ctx.args.name})
    else:
        ctx.out.line(f"removed connector {ctx.args.name}")
    return 0
