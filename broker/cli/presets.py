"""`broker connectors presets` and `broker connectors add-preset`: ready-made connectors for
real APIs (connectors/presets/), expanded here and registered like any other connector."""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any

from broker.cli.context import Context, Subcommands, command
from broker.cli.errors import CliError

EXIT_USAGE = 2


def register(connectors: Subcommands[argparse.ArgumentParser], leaf: argparse.ArgumentParser) -> None:
    parser = command(connectors, leaf, "presets", show_presets, "list ready-made connectors for real APIs")
    parser.add_argument("preset", nargs="?", help="show this preset's tools and notes")

    parser = command(
        connectors, leaf, "add-preset", add_preset, "register a ready-made connector for a real API"
    )
    parser.add_argument("preset", help="the preset, e.g. open-meteo or hubspot (see `connectors presets`)")
    parser.add_argument("--name", help="connector name instead of the preset's (tools are NAME.<tool>)")
    parser.add_argument(
        "--base-url",
        action="append",
        default=[],
        metavar="[CONNECTOR=]URL",
        help="upstream URL instead of the real API's (a mirror, a test server); CONNECTOR= sets one "
        "connector's of a preset with several; may be repeated",
    )
    parser.add_argument("--secret", help="name of the secret in the gateway's store holding the credential")
    parser.add_argument(
        "--allow-private-network",
        action="store_true",
        help="let it reach loopback/private addresses (refused by default: SSRF protection)",
    )
    parser.add_argument("--replace", action="store_true", help="replace connectors of the same names")
    parser.add_argument(
        "--print",
        action="store_true",
        help="print the connector configs (for `broker apply -f`) instead of registering them",
    )


def show_presets(ctx: Context) -> int:
    from connectors.presets import PresetError, describe, list_presets, read_preset

    try:
        infos = [describe(read_preset(ctx.args.preset))] if ctx.args.preset else list_presets()
    except PresetError as exc:
        raise CliError(exc.message, exit_code=EXIT_USAGE) from None
    if ctx.out.as_json:
        ctx.out.json([dataclasses.asdict(info) for info in infos])
        return 0
    if not ctx.args.preset:
        rows = [
            [i.name, ", ".join(i.connectors), len(i.tools), ", ".join(i.secrets) or "-", i.summary]
            for i in infos
        ]
        ctx.out.table(["preset", "connectors", "tools", "secret", "summary"], rows)
        return 0
    info = infos[0]
    ctx.out.line(f"{info.name}: {info.summary}")
    ctx.out.line(f"documentation: {info.documentation}")
    ctx.out.line(f"secret:        {', '.join(info.secrets) or '- (none needed)'}")
    ctx.out.line("tools:")
    for tool in info.tools:
        ctx.out.line(f"  {tool}")
    if info.notes:
        ctx.out.line("")
        ctx.out.line(info.notes.rstrip())
    return 0


def add_preset(ctx: Context) -> int:
    import yaml

    from connectors.presets import PresetError, load_preset

    args = ctx.args
    base_url, base_urls = _base_urls(args.base_url)
    try:
        configs = load_preset(
            args.preset,
            name_override=args.name,
            base_url=base_url,
            base_urls=base_urls,
            secret=args.secret,
            allow_private_network=args.allow_private_network,
        )
    except PresetError as exc:
        raise CliError(exc.message, exit_code=EXIT_USAGE) from None
    if args.print:
        if ctx.out.as_json:
            ctx.out.json({"connectors": configs})
        else:
            text = yaml.safe_dump({"connectors": configs}, sort_keys=False, allow_unicode=True, width=100)
            ctx.out.line(text.rstrip())
        return 0
    names = [config["name"] for config in configs]
    if not args.replace:
        taken = sorted({row["name"] for row in ctx.client.get("/admin/connectors")} & set(names))
        if taken:
            raise CliError(
                f"connector '{taken[0]}' already exists; add the preset under another --name, "
                "or replace it with --replace"
            )
    results: list[dict[str, Any]] = []
    for config in configs:
        try:
            results.append(
                ctx.client.post("/admin/connectors", config, replace="true" if args.replace else None)
            )
        except CliError as exc:
            if "allow_private_network" in exc.message and not args.allow_private_network:
                exc.message += " (for a local test server: --allow-private-network)"
            if results:
                done = ", ".join(result["name"] for result in results)
                exc.message += f" (connector {done} of this preset is registered; fix this and add again)"
            raise
    if ctx.out.as_json:
        ctx.out.json(results)
        return 0
    for result in results:
        count = len(result["tools"])
        plural = "" if count == 1 else "s"
        ctx.out.line(f"{result['result']} connector {result['name']} ({count} tool{plural})")
        for tool in result["tools"]:
            ctx.out.line(f"  {tool}")
    return 0


def _base_urls(values: list[str]) -> tuple[str | None, dict[str, str]]:
    """`--base-url URL` (every connector) and `--base-url CONNECTOR=URL` (one connector)."""
    plain: str | None = None
    keyed: dict[str, str] = {}
    for value in values:
        key, sep, url = value.partition("=")
        if sep and "/" not in key and ":" not in key:
            keyed[key] = url
        elif plain is not None:
            raise CliError(
                "--base-url URL can be given once; use CONNECTOR=URL for single connectors",
                exit_code=EXIT_USAGE,
            )
        else:
            plain = value
    return plain, keyed
