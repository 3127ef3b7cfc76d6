"""`broker connections ...`: end users' own grants at upstreams (`auth: {type: user_oauth}`).

Operators list (auditors too) and revoke them through /admin/connections; a signed-in user
lists and revokes their own through /connections with their OAuth access token (`--token`).
No command ever shows a token: the API returns none.
"""

from __future__ import annotations

import argparse
from typing import Any
from urllib.parse import quote

from broker.cli.context import Context, Subcommands, command, group
from broker.cli.output import short_time


def register(commands: Subcommands[argparse.ArgumentParser], leaf: argparse.ArgumentParser) -> None:
    connections = group(commands, "connections", "list and revoke users' own grants at upstreams")
    parser = command(connections, leaf, "list", list_all, "users' grants at upstreams (never a token)")
    parser.add_argument("--connector", help="only this connector's")
    parser.add_argument("--user", help="only this end user's")
    parser = command(connections, leaf, "revoke", revoke, "revoke a user's grant at an upstream")
    parser.add_argument("connector")
    parser.add_argument("user", help="the end user (the `user` column of `broker connections list`)")
    command(connections, leaf, "mine", mine, "your own grants (--token: your OAuth access token)")
    parser = command(connections, leaf, "disconnect", disconnect, "revoke your own grant at an upstream")
    parser.add_argument("connector")


def _show(ctx: Context, rows: list[dict[str, Any]]) -> int:
    if ctx.out.as_json:
        ctx.out.json(rows)
        return 0
    table = [
        [
            r["connector"],
            r["user"],
            r["agent"],
            r["status"],
            " ".join(r["scopes"]),
            short_time(r["updated_at"]),
        ]
        for r in rows
    ]
    headers = ["connector", "user", "agent", "status", "scopes", "updated"]
    ctx.out.table(headers, table, empty="no connections: users connect when a per-user upstream asks them to")
    return 0


def list_all(ctx: Context) -> int:
    params = {k: v for k, v in {"connector": ctx.args.connector, "user": ctx.args.user}.items() if v}
    return _show(ctx, ctx.client.get("/admin/connections", **params))


def revoke(ctx: Context) -> int:
    ctx.client.delete(
        f"/admin/connections/{quote(ctx.args.connector, safe='')}/{quote(ctx.args.user, safe='')}"
    )
    ctx.out.line(f"revoked {ctx.args.user}'s grant at {ctx.args.connector}")
    return 0


def mine(ctx: Context) -> int:
    return _show(ctx, ctx.client.get("/connections")["connections"])


def disconnect(ctx: Context) -> int:
    ctx.client.delete(f"/connections/{quote(ctx.args.connector, safe='')}")
    ctx.out.line(f"disconnected from {ctx.args.connector}: the gateway forgot your tokens there")
    return 0
