"""`broker secrets ...`: the credentials the gateway injects into upstream calls.

A value is never a command-line argument (it would stay in shell history and show in the
process list): it comes from a file, an environment variable, a hidden prompt or stdin.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys

from broker.cli.context import Context, Subcommands, command, group
from broker.cli.errors import CliError
from broker.cli.output import short_time
from broker.secrets.kinds import KINDS as SECRET_KINDS

EXIT_USAGE = 2


def register(commands: Subcommands[argparse.ArgumentParser], leaf: argparse.ArgumentParser) -> None:
    secrets = group(
        commands, "secrets", "store, list and rotate the credentials injected into upstream calls"
    )
    parser = command(secrets, leaf, "add", add, "add a secret or replace its value (never shown again)")
    parser.allow_abbrev = False  # `--value X` must not pass for `--value-file X`
    parser.add_argument("name", help="the name connector configs use, e.g. crm-token")
    parser.add_argument(
        "--kind",
        choices=SECRET_KINDS,
        help="what the value is (default: unchanged, or generic)",
    )
    parser.add_argument("--description", help="free text for operators")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--value-file", metavar="FILE", help="read the value from FILE ('-': stdin)")
    source.add_argument("--from-env", metavar="VAR", help="read the value from environment variable VAR")
    source.add_argument("--value", dest="plain_value", help=argparse.SUPPRESS)
    parser.epilog = "Without --value-file or --from-env: a hidden prompt on a terminal, else stdin."
    command(secrets, leaf, "list", list_secrets, "list secrets: name, kind, last use (never values)")
    parser = command(secrets, leaf, "remove", remove, "delete a secret")
    parser.add_argument("name")
    parser.add_argument("--force", action="store_true", help="delete even when connectors use it")
    command(
        secrets,
        leaf,
        "rotate-key",
        rotate_key,
        "re-encrypt every secret with the first BROKER_SECRET_KEYS key",
    )
    command(secrets, leaf, "generate-key", generate, "print a new encryption key (offline)")


def read_value(args: argparse.Namespace) -> str:
    """The secret's value from the chosen source; one trailing newline of a file or pipe is dropped."""
    if args.plain_value is not None:
        raise CliError(
            "a value on the command line stays in shell history and shows in the process list; "
            "use --value-file FILE, --from-env VAR, stdin or the prompt",
            exit_code=EXIT_USAGE,
        )
    if args.from_env:
        value = os.environ.get(args.from_env)
        if value is None:
            raise CliError(f"environment variable {args.from_env} is not set", exit_code=EXIT_USAGE)
        return value
    if args.value_file and args.value_file != "-":
        try:
            with open(args.value_file, encoding="utf-8", newline="") as file:
                return _chomp(file.read())
        except OSError as exc:
            raise CliError(f"cannot read {args.value_file}: {exc.strerror or exc}") from None
        except UnicodeDecodeError:
            raise CliError(f"cannot read {args.value_file}: it is not UTF-8 text") from None
    if args.value_file is None and sys.stdin.isatty():
        value = getpass.getpass(f"Value for secret {args.name}: ")
        if value and getpass.getpass("Again, to confirm: ") != value:
            raise CliError("the two values differ; nothing was stored")
        return value
    return _chomp(sys.stdin.read())


def _chomp(text: str) -> str:
    return text.removesuffix("\n").removesuffix("\r")


def add(ctx: Context) -> int:
    value = read_value(ctx.args)
    if not value:
        raise CliError("the value is empty; nothing was stored", exit_code=EXIT_USAGE)
    body = {"value": value, "kind": ctx.args.kind, "description": ctx.args.description}
    response = ctx.client.request("PUT", f"/admin/secrets/{ctx.args.name}", json=body)
    if ctx.out.as_json:
        ctx.out.json(response)
        return 0
    fate = "updated" if response["created_at"] != response["updated_at"] else "created"
    ctx.out.line(f"{fate} secret {response['name']} ({response['kind']})")
    if response["used_by"]:
        ctx.out.line(f"used by: {', '.join(response['used_by'])} (the new value is in force now)")
    return 0


def list_secrets(ctx: Context) -> int:
    rows = ctx.client.get("/admin/secrets")
    if ctx.out.as_json:
        ctx.out.json(rows)
        return 0
    table = [
        [
            r["name"],
            r["kind"],
            r["used_by"],
            short_time(r["updated_at"]),
            short_time(r["last_used_at"]),
            r["description"],
        ]
        for r in rows
    ]
    headers = ["name", "kind", "used by", "updated", "last used", "description"]
    ctx.out.table(headers, table, empty="no secrets yet: `broker secrets add NAME --kind KIND` stores one")
    return 0


def remove(ctx: Context) -> int:
    name = ctx.args.name
    ctx.client.request("DELETE", f"/admin/secrets/{name}", params={"force": "true"} if ctx.args.force else {})
    if ctx.out.as_json:
        ctx.out.json({"deleted": name})
    else:
        ctx.out.line(f"deleted secret {name}")
    return 0


def rotate_key(ctx: Context) -> int:
    result = ctx.client.post("/admin/secrets/rotate-key")
    if ctx.out.as_json:
        ctx.out.json(result)
        return 0
    ctx.out.line(f"re-encrypted {result['rotated']} secret(s) with the first of {result['keys']} key(s)")
    if result["keys"] > 1:
        ctx.out.line("the other keys are no longer needed: remove them from BROKER_SECRET_KEYS and restart")
    return 0


def generate(ctx: Context) -> int:
    from broker.secrets.keys import generate_key

    key = generate_key()
    if ctx.out.as_json:
        ctx.out.json({"key": key})
        return 0
    ctx.out.line(key)
    ctx.out.note(
        "set it as BROKER_SECRET_KEYS (to rotate: new key first, old keys after it, comma-separated, "
        "then `broker secrets rotate-key`); keep a copy: without it stored secrets cannot be read"
    )
    return 0
