"""`broker cache stats` and `broker cache purge`: the tool-result cache."""

from __future__ import annotations

import argparse
from typing import Any

from broker.cli.context import Context, Subcommands, command, group

STATUSES = ("hit", "miss", "bypass", "uncacheable", "coalesced")


def register(commands: Subcommands[argparse.ArgumentParser], leaf: argparse.ArgumentParser) -> None:
    cache = group(commands, "cache", "inspect and purge the tool-result cache")
    command(cache, leaf, "stats", stats, "entries and size by tool; hits, misses and evictions")
    parser = command(
        cache, leaf, "purge", purge, "drop cached results: of a tool, of an agent (its own), or all"
    )
    parser.add_argument("--tool", metavar="T", help="only this tool's entries (qualified name)")
    parser.add_argument("--agent", metavar="A", help="only this agent's own entries (not shared ones)")


def stats(ctx: Context) -> int:
    found: dict[str, Any] = ctx.client.get("/admin/cache")
    if ctx.out.as_json:
        ctx.out.json(found)
        return 0
    out = ctx.out
    bounds = ""
    if found.get("max_entries") is not None:
        bounds = f" (at most {found['max_entries']} entries, {_size(found['max_bytes'])})"
    out.line(f"backend:    {found['backend']}{bounds}")
    out.line(f"entries:    {found['entries']} ({_size(found['bytes'])})")
    lookups = found.get("lookups", {})
    total = sum(lookups.values())
    counts = ", ".join(f"{status} {lookups.get(status, 0)}" for status in STATUSES)
    out.line(f"calls:      {counts} (this instance, since it started)")
    served = lookups.get("hit", 0) + lookups.get("coalesced", 0)
    if total:
        out.line(f"hit ratio:  {served / total:.0%} of {total} calls")
    out.line(f"evictions:  {found.get('evictions', 0)}")
    rows = sorted(found.get("by_tool", {}).items(), key=lambda item: (-item[1], item[0]))
    if rows:
        out.line()
        out.table(["tool", "entries"], rows)
    return 0


def purge(ctx: Context) -> int:
    body = {"tool": ctx.args.tool, "agent": ctx.args.agent}
    result: dict[str, Any] = ctx.client.post("/admin/cache/purge", {k: v for k, v in body.items() if v})
    if ctx.out.as_json:
        ctx.out.json(result)
    else:
        what = " and ".join(
            part
            for part in (
                f"tool {ctx.args.tool}" if ctx.args.tool else "",
                f"agent {ctx.args.agent}" if ctx.args.agent else "",
            )
            if part
        )
        ctx.out.line(f"purged {result['purged']} entries" + (f" of {what}" if what else ""))
    return 0


def _size(count: int | None) -> str:
    if count is None:
        return "-"
    if count < 1024:
        return f"{count} B"
    if count < 1024 * 1024:
        return f"{count / 1024:.1f} KiB"
    return f"{count / (1024 * 1024):.1f} MiB"
