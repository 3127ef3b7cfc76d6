"""`broker agents ...` and `broker keys ...`: who may connect, and with which keys."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from broker.cli.context import Context, Subcommands, command, group
from broker.cli.errors import CliError
from broker.cli.output import short_time

KEY_WARNING = "This key is shown only once: store it now. The gateway keeps only its hash."


def register(commands: Subcommands[argparse.ArgumentParser], leaf: argparse.ArgumentParser) -> None:
    agents = group(commands, "agents", "create, list and disable agents")
    parser = command(agents, leaf, "create", create_agent, "create an agent")
    parser.add_argument("name", help="lowercase slug, e.g. support-bot")
    parser.add_argument("--team", help="the agent's team (policies may grant by team)")
    parser.add_argument("--description", default="", help="free text for operators")
    command(agents, leaf, "list", list_agents, "list agents")
    for name, handler, text in (
        ("show", show_agent, "show an agent and its keys"),
        ("disable", disable_agent, "disable an agent: its keys stop working at once"),
        ("enable", enable_agent, "enable a disabled agent"),
    ):
        command(agents, leaf, name, handler, text).add_argument("name")
    parser = command(agents, leaf, "delete", delete_agent, "delete an agent and all its keys")
    parser.add_argument("name")
    parser.add_argument("--yes", action="store_true", help="do not ask for confirmation")

    keys = group(commands, "keys", "create, list, revoke and rotate agents' API keys")
    parser = command(keys, leaf, "create", create_key, "create a key for an agent (shown once)")
    parser.add_argument("agent")
    parser.add_argument("--label", default="", help="what the key is for, e.g. where it is deployed")
    parser.add_argument("--expires-in-days", type=int, metavar="N", help="expire the key after N days")
    command(keys, leaf, "list", list_keys, "list an agent's keys (never the keys themselves)").add_argument(
        "agent"
    )
    parser = command(keys, leaf, "revoke", revoke_key, "revoke a key at once")
    parser.add_argument("agent")
    parser.add_argument("key_id", help="the key's id or prefix (see `broker keys list AGENT`)")
    parser = command(keys, leaf, "rotate", rotate_key, "replace a key with a new one (shown once)")
    parser.add_argument("agent")
    parser.add_argument("key_id", help="the key's id or prefix")
    parser.add_argument(
        "--grace-seconds",
        type=int,
        default=0,
        metavar="N",
        help="keep the old key working N seconds (default 0)",
    )


def create_agent(ctx: Context) -> int:
    body = {"name": ctx.args.name, "team": ctx.args.team, "description": ctx.args.description}
    agent = ctx.client.post("/admin/agents", body)
    if ctx.out.as_json:
        ctx.out.json(agent)
        return 0
    team = f" (team {agent['team']})" if agent["team"] else ""
    ctx.out.line(f"created agent {agent['name']}{team}")
    ctx.out.line(f"next: `broker keys create {agent['name']}` gives it a key; a policy grants it tools")
    return 0


def list_agents(ctx: Context) -> int:
    rows = ctx.client.get("/admin/agents")
    if ctx.out.as_json:
        ctx.out.json(rows)
        return 0
    table = [[a["name"], a["team"], a["enabled"], a["active_keys"], a["description"]] for a in rows]
    headers = ["name", "team", "enabled", "keys", "description"]
    ctx.out.table(headers, table, empty="no agents yet: `broker agents create NAME` creates one")
    return 0


def show_agent(ctx: Context) -> int:
    agent = ctx.client.get(f"/admin/agents/{ctx.args.name}")
    if ctx.out.as_json:
        ctx.out.json(agent)
        return 0
    ctx.out.line(f"name:        {agent['name']}")
    ctx.out.line(f"team:        {agent['team'] or '-'}")
    ctx.out.line(f"enabled:     {'yes' if agent['enabled'] else 'no (its keys do not work)'}")
    ctx.out.line(f"description: {agent['description'] or '-'}")
    ctx.out.line(f"created:     {short_time(agent['created_at'])}")
    ctx.out.line("")
    _key_table(ctx, agent["keys"])
    return 0


def disable_agent(ctx: Context) -> int:
    return _set_enabled(ctx, False)


def enable_agent(ctx: Context) -> int:
    return _set_enabled(ctx, True)


def _set_enabled(ctx: Context, enabled: bool) -> int:
    agent = ctx.client.patch(f"/admin/agents/{ctx.args.name}", {"enabled": enabled})
    if ctx.out.as_json:
        ctx.out.json(agent)
    else:
        ctx.out.line(f"{'enabled' if enabled else 'disabled'} agent {agent['name']}")
    return 0


def delete_agent(ctx: Context) -> int:
    name = ctx.args.name
    if not ctx.args.yes:
        if not sys.stdin.isatty():
            raise CliError(f"deleting agent {name} also deletes its keys; pass --yes to confirm")
        answer = input(f"Delete agent {name} and all its keys? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            ctx.out.note("not deleted")
            return 1
    ctx.client.delete(f"/admin/agents/{name}")
    if ctx.out.as_json:
        ctx.out.json({"deleted": name})
    else:
        ctx.out.line(f"deleted agent {name} and its keys")
    return 0


def create_key(ctx: Context) -> int:
    body = {"label": ctx.args.label, "expires_in_days": ctx.args.expires_in_days}
    issued = ctx.client.post(f"/admin/agents/{ctx.args.agent}/keys", body)
    _print_issued(ctx, issued, f"created key {issued['prefix']} for agent {ctx.args.agent}")
    return 0


def list_keys(ctx: Context) -> int:
    found = ctx.client.get(f"/admin/agents/{ctx.args.agent}/keys")
    if ctx.out.as_json:
        ctx.out.json(found)
    else:
        _key_table(ctx, found)
    return 0


def revoke_key(ctx: Context) -> int:
    key = ctx.client.post(f"/admin/agents/{ctx.args.agent}/keys/{ctx.args.key_id}/revoke")
    if ctx.out.as_json:
        ctx.out.json(key)
    else:
        ctx.out.line(f"revoked key {key['prefix']} of agent {ctx.args.agent}")
    return 0


def rotate_key(ctx: Context) -> int:
    body = {"grace_seconds": ctx.args.grace_seconds}
    issued = ctx.client.post(f"/admin/agents/{ctx.args.agent}/keys/{ctx.args.key_id}/rotate", body)
    old = issued["replaced"]
    fate = "revoked now" if old["revoked_at"] else f"works until {short_time(old['expires_at'])} UTC"
    _print_issued(ctx, issued, f"rotated key {old['prefix']} of agent {ctx.args.agent} ({fate})")
    return 0


def _print_issued(ctx: Context, issued: dict[str, Any], headline: str) -> None:
    if ctx.out.as_json:
        ctx.out.json(issued)
        return
    ctx.out.line(headline)
    ctx.out.line("")
    ctx.out.line(f"    {issued['key']}")
    ctx.out.line("")
    if issued["expires_at"]:
        ctx.out.line(f"expires: {short_time(issued['expires_at'])} UTC")
    ctx.out.line(KEY_WARNING)


def _key_table(ctx: Context, keys: list[dict[str, Any]]) -> None:
    rows = [
        [
            k["id"],
            k["prefix"],
            k["label"],
            k["status"],
            short_time(k["created_at"]),
            short_time(k["expires_at"]),
        ]
        for k in keys
    ]
    ctx.out.table(["id", "prefix", "label", "status", "created", "expires"], rows, empty="no keys")
