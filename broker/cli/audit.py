"""`broker audit tail`: recent tool calls, optionally following new ones."""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from broker.cli.context import Context, Subcommands, command, group
from broker.cli.output import cell_text, short_time

PAGE = 1000


def register(commands: Subcommands[argparse.ArgumentParser], leaf: argparse.ArgumentParser) -> None:
    audit = group(commands, "audit", "read the audit log of tool calls")
    parser = command(audit, leaf, "tail", tail, "print recent tool calls, oldest first (--json: JSON lines)")
    parser.add_argument(
        "-n", "--lines", type=int, default=20, metavar="N", help="how many records (default 20)"
    )
    parser.add_argument("--agent", help="only this agent's calls")
    parser.add_argument("--tool", help="only calls of this tool")
    parser.add_argument("--outcome", help="only this outcome, e.g. denied")
    parser.add_argument(
        "-f", "--follow", action="store_true", help="keep printing new records (Ctrl-C stops)"
    )
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between polls with --follow")


def tail(ctx: Context) -> int:
    args = ctx.args
    filters = {"agent": args.agent, "tool": args.tool, "outcome": args.outcome}
    records = _fetch(ctx, limit=max(1, min(args.lines, PAGE)), **filters)
    if not ctx.out.as_json:
        ctx.out.line(_row(["TIME", "AGENT", "TOOL", "OUTCOME", "CACHE", "MS", "REASON"]))
    last = _print(ctx, records)
    while args.follow:
        time.sleep(args.interval)
        last = max(last, _print(ctx, _fetch(ctx, limit=PAGE, after_id=last, **filters)))
    return 0


def _fetch(ctx: Context, **params: Any) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = ctx.client.get("/admin/audit", **params)
    return records[::-1]  # the API answers newest first


def _print(ctx: Context, records: list[dict[str, Any]]) -> int:
    """Print records oldest first; returns the highest id seen (0 if none)."""
    for record in records:
        if ctx.out.as_json:
            ctx.out.line(json.dumps(record, ensure_ascii=False))
        else:
            detail = record["error"] or record["reason"]
            latency = f"{record['latency_ms']:.0f}"
            ctx.out.line(
                _row(
                    [
                        short_time(record["ts"]),
                        record["agent"],
                        record["tool"],
                        record["outcome"],
                        record.get("cache"),
                        latency,
                        detail,
                    ]
                )
            )
    return max((record["id"] for record in records), default=0)


def _row(cells: list[Any]) -> str:
    """Fixed widths, so lines printed while following stay aligned."""
    time_, agent, tool, outcome, cache, latency, detail = (cell_text(c, 60) for c in cells)
    return f"{time_:19}  {agent:18}  {tool:28}  {outcome:17}  {cache:11}  {latency:>6}  {detail}".rstrip()
