"""`broker`: manage the gateway through its admin API, and run it.

Exit codes: 0 success, 1 error (from the gateway or a file), 2 usage error,
3 `policy explain` answered DENY.

Start-up is lazy: the command table below names each top-level command's module, and only
the module of the command being run is imported (`broker --help` imports none), so simple
commands start in a fraction of a second instead of loading the whole gateway.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from types import ModuleType

from broker.cli.context import Context
from broker.cli.errors import CliError
from broker.cli.output import Output, problem_lines
from broker.cli.parser import SuggestingParser

EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_BROKEN_PIPE = 141  # what a shell reports for a command killed by SIGPIPE

COMMANDS: dict[str, tuple[str, str]] = {
    "apply": ("configs", "apply a file of connectors, agents and policies (idempotent)"),
    "policy": ("configs", "show, apply, validate and explain policies"),
    "connectors": ("connectors", "register upstreams and list their tools"),
    "agents": ("agents", "create, list and disable agents"),
    "keys": ("agents", "create, list, revoke and rotate agents' API keys"),
    "secrets": ("secrets", "store, list and rotate the credentials injected into upstream calls"),
    "connections": ("connections", "list and revoke users' own grants at upstreams"),
    "audit": ("audit", "read the audit log of tool calls"),
    "cache": ("cache", "inspect and purge the tool-result cache"),
    "llm": ("llm", "configure the LLM proxy at /v1: providers, models, prices, budgets, limits"),
    "usage": ("llm", "model usage and cost through the LLM proxy"),
    "admin-log": ("changes", "who changed what through the admin API"),
    "login": ("login", "sign in with your identity provider (device code)"),
    "logout": ("login", "forget the tokens `broker login` stored for this gateway"),
    "serve": ("server", "run the gateway (settings from BROKER_* variables)"),
    "db": ("server", "the database schema: upgrade it, show its revision"),
    "migrate": ("server", "the same as `broker db upgrade` (BROKER_DATABASE_URL)"),
    "demo": ("server", "run a local demo: gateway, demo upstreams, agents and policies"),
    "completion": ("completion", "print a shell completion script (bash, zsh or tcsh)"),
}
"""Top-level command → (module under broker.cli that registers it, its one-line help)."""

_VALUED_OPTIONS = {"--url", "--token"}


def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as package_version

    try:
        return package_version("tool-broker")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "unknown"


def common_options(*, suppress: bool) -> argparse.ArgumentParser:
    """--url/--token/--json, accepted before or after the command (`broker agents list --json`)."""
    default = argparse.SUPPRESS if suppress else None
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument(
        "--url",
        default=default,
        help="admin API base URL (env BROKER_ADMIN_URL; default http://127.0.0.1:8000)",
    )
    parser.add_argument("--token", default=default, help="admin token (env BROKER_ADMIN_TOKEN)")
    parser.add_argument(
        "--json",
        action="store_true",
        default=argparse.SUPPRESS if suppress else False,
        help="print JSON instead of tables (for scripts)",
    )
    return parser


def command_of(argv: Sequence[str]) -> str | None:
    """The top-level command named in argv, if any (option values are not commands)."""
    skip = False
    for token in argv:
        if skip:
            skip = False
        elif token in _VALUED_OPTIONS:
            skip = True
        elif not token.startswith("-"):
            return token if token in COMMANDS else None
    return None


def build_parser(*, only: str | None = None) -> argparse.ArgumentParser:
    """The whole parser (`only=None`), or one where just `only`'s module is loaded and the
    other commands are placeholders that carry their help line."""
    parser = SuggestingParser(
        prog="broker",
        description="Manage the MCP tool-broker gateway: connectors, agents and keys, policies, secrets, "
        "audit, cache, the LLM proxy.",
        parents=[common_options(suppress=False)],
    )
    parser.add_argument("--version", action="version", version=f"broker {version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    leaf = common_options(suppress=True)
    wanted = None if only is None else COMMANDS[only][0]
    loaded: dict[str, ModuleType] = {}
    for name, (module_name, help_text) in COMMANDS.items():
        if wanted is None or module_name == wanted:
            if module_name not in loaded:
                loaded[module_name] = importlib.import_module(f"broker.cli.{module_name}")
                loaded[module_name].register(commands, leaf)
        else:
            commands.add_parser(name, help=help_text, description=help_text)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    name = command_of(arguments)
    parser = build_parser(only=name) if name is not None else build_parser(only="completion")
    try:
        args = parser.parse_args(arguments)
    except SystemExit as exc:  # --help, --version, or a usage error argparse has printed
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    out = Output(as_json=args.json)
    context = Context(args=args, out=out)
    try:
        code: int = args.handler(context)
        sys.stdout.flush()
        return code
    except CliError as exc:
        out.note(f"error: {exc.message}")
        for line in problem_lines(exc.problems, exc.source, exc.located):
            out.note(line)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`broker policy show | head`): stop quietly, and point stdout at
        # /dev/null so the interpreter's own flush at exit does not raise again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    finally:
        context.close()


if __name__ == "__main__":
    raise SystemExit(main())
