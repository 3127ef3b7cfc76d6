"""`broker connectors diff/approve`: review what changed on an upstream MCP server.

`diff` shows which pinned tools changed upstream (quarantined), which vanished, and which
are new, each changed definition as a unified diff, with the scanner's findings. `approve`
shows the same review, asks, and approves exactly the definitions it showed: if the
upstream moves again meanwhile, the gateway refuses and nothing is approved.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from broker.cli.context import Context, Subcommands, command
from broker.cli.errors import CliError

_STATUS = {
    "changed": "CHANGED (quarantined: hidden from agents, calls refused)",
    "removed": "REMOVED upstream (quarantined)",
    "new": "NEW upstream (not approved yet)",
}


def register(connectors: Subcommands[argparse.ArgumentParser], leaf: argparse.ArgumentParser) -> None:
    parser = command(
        connectors, leaf, "diff", diff, "show how an MCP upstream's tools differ from their approved pins"
    )
    parser.add_argument("name", help="an mcp connector")
    parser = command(
        connectors, leaf, "approve", approve, "approve reviewed changes of an MCP upstream's tools"
    )
    parser.add_argument("name", help="an mcp connector")
    parser.add_argument(
        "--tool",
        action="append",
        metavar="TOOL",
        help="approve only this tool (upstream or exposed name); may be repeated (default: every change)",
    )
    parser.add_argument("--yes", action="store_true", help="do not ask for confirmation")


def diff(ctx: Context) -> int:
    review = ctx.client.get(f"/admin/connectors/{ctx.args.name}/diff")
    if ctx.out.as_json:
        ctx.out.json(review)
    else:
        _print_review(ctx, review, None)
        if not review["clean"]:
            ctx.out.line("")
            ctx.out.line(
                f"approve with `broker connectors approve {review['connector']}` "
                "(or --tool NAME for some of them)"
            )
    return 0


def approve(ctx: Context) -> int:
    name, only = ctx.args.name, ctx.args.tool
    review = ctx.client.get(f"/admin/connectors/{name}/diff")
    items = [*review["changed"], *review["removed"], *review["new"]]
    if only is not None:
        chosen = [i for i in items if i["name"] in only or i["exposed_name"] in only]
        unknown = sorted(set(only) - {i["name"] for i in chosen} - {i["exposed_name"] for i in chosen})
        if unknown:
            raise CliError(f"nothing to approve for {', '.join(unknown)}: `broker connectors diff {name}`")
        items = chosen
    if not items:
        _say(ctx, {"connector": name, "result": "unchanged", "approved": []}, "nothing to approve: ")
        return 0
    if not ctx.args.yes:
        if ctx.out.as_json or not sys.stdin.isatty():
            raise CliError("approving changes what agents may call; pass --yes to confirm")
        _print_review(ctx, review, {i["name"] for i in items})
        answer = input(f"\nApprove {len(items)} tool change{'s' if len(items) != 1 else ''}? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            ctx.out.note("nothing approved")
            return 1
    body = {"tools": [i["name"] for i in items], "expect": {i["name"]: i["live_pin"] for i in items}}
    result = ctx.client.post(f"/admin/connectors/{name}/approve", body)
    _say(ctx, result, "")
    return 0


def _say(ctx: Context, result: dict[str, Any], lead: str) -> None:
    if ctx.out.as_json:
        ctx.out.json(result)
        return
    if not result["approved"]:
        ctx.out.line(f"{lead}connector {result['connector']} matches its approved tools")
        return
    ctx.out.line(f"approved for {result['connector']}: {', '.join(result['approved'])}")
    for warning in result.get("warnings", []):
        ctx.out.line(f"warning: {warning}")


def _print_review(ctx: Context, review: dict[str, Any], only: set[str] | None) -> None:
    connector = review["connector"]
    if review["clean"]:
        ctx.out.line(f"connector {connector}: every upstream tool matches its approved definition")
        return
    counts = ", ".join(f"{len(review[k])} {k}" for k in ("changed", "removed", "new") if review[k])
    ctx.out.line(f"connector {connector}: {counts}; {len(review['unchanged'])} unchanged")
    if review["new"]:
        exposed = "are exposed as first seen" if review["expose_new_tools"] else "stay hidden until approved"
        ctx.out.line(f"new tools {exposed} (expose_new_tools: {str(review['expose_new_tools']).lower()})")
    for kind in ("changed", "removed", "new"):
        for item in review[kind]:
            if only is not None and item["name"] not in only:
                continue
            ctx.out.line("")
            ctx.out.line(f"{item['exposed_name']}: {_STATUS[kind]}")
            for line in item["diff"].splitlines():
                ctx.out.line(f"  {line}")
            for flag in item["flags"]:
                ctx.out.line(f"  warning: {flag}")
