"""`broker admin-log`: the admin change log (who changed what, before and after)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from broker.cli.context import Context, Subcommands, command
from broker.cli.output import short_time


def register(commands: Subcommands[argparse.ArgumentParser], leaf: argparse.ArgumentParser) -> None:
    parser = command(commands, leaf, "admin-log", admin_log, "who changed what through the admin API")
    parser.add_argument(
        "-n", "--lines", type=int, default=20, metavar="N", help="how many changes (default 20)"
    )
    parser.add_argument("--actor", help="only this actor's changes (as listed)")
    parser.add_argument("--path", help="only changes under this path, e.g. /admin/policies")
    parser.add_argument("--diff", action="store_true", help="also print each change's before and after")


def admin_log(ctx: Context) -> int:
    args = ctx.args
    params = {"limit": max(1, min(args.lines, 1000)), "actor": args.actor, "path": args.path}
    changes: list[dict[str, Any]] = ctx.client.request(
        "GET", "/admin/changes", params={k: v for k, v in params.items() if v is not None}
    )
    if ctx.out.as_json:
        ctx.out.json(changes)
        return 0
    rows = [
        [short_time(c["ts"]), c["actor"], c["role"], c["method"], c["path"], c["status"]]
        for c in reversed(changes)
    ]
    ctx.out.table(["TIME", "ACTOR", "ROLE", "METHOD", "PATH", "STATUS"], rows, empty="no admin changes yet")
    if args.diff:
        for change in reversed(changes):
            ctx.out.line(f"\n# {change['method']} {change['path']} by {change['actor']}")
            ctx.out.line("before: " + json.dumps(change["before"], sort_keys=True))
            ctx.out.line("after:  " + json.dumps(change["after"], sort_keys=True))
    return 0
