"""`broker`: manage the gateway through its admin API, and run it.

Exit codes: 0 success, 1 error (from the gateway or a file), 2 usage error,
3 `policy explain` answered DENY.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from broker.cli import agents, audit, cache, configs, connectors, llm, secrets, server
from broker.cli.client import CliError
from broker.cli.context import Context
from broker.cli.output import Output, problem_lines

EXIT_ERROR = 1
EXIT_USAGE = 2


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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="broker",
        description="Manage the MCP tool-broker gateway: connectors, agents and keys, policies, secrets, "
        "audit, cache.",
        parents=[common_options(suppress=False)],
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    leaf = common_options(suppress=True)
    for module in (configs, connectors, agents, secrets, audit, cache, llm, server):
        module.register(commands, leaf)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, or a usage error argparse has printed
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    out = Output(as_json=args.json)
    context = Context(args=args, out=out)
    try:
        code: int = args.handler(context)
        return code
    except CliError as exc:
        out.note(f"error: {exc.message}")
        for line in problem_lines(exc.problems, exc.source, exc.located):
            out.note(line)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    finally:
        context.close()


if __name__ == "__main__":
    raise SystemExit(main())
