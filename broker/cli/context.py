"""What every command handler gets: its arguments, the output, and a lazily made client."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from broker.cli.errors import CliError
from broker.cli.output import Output

if TYPE_CHECKING:
    from broker.cli.client import AdminClient
    from broker.errors import InvalidInput

Handler = Callable[["Context"], int]


@dataclass
class Context:
    args: argparse.Namespace
    out: Output
    _client: AdminClient | None = field(default=None, init=False)

    @property
    def client(self) -> AdminClient:
        if self._client is None:
            from broker.cli.client import AdminClient, CliSettings  # httpx: only when a command calls

            settings = CliSettings()
            url = self.args.url or settings.admin_url
            token = self.args.token or (
                settings.admin_token.get_secret_value() if settings.admin_token else None
            )
            if token is None:
                from broker.cli.login import stored_token

                token = stored_token(url)
            self._client = AdminClient(url, token)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()


def read_text(path: str) -> str:
    """A file's text ('-' reads stdin), or a CliError that says why not."""
    if path == "-":
        return sys.stdin.read()
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise CliError(f"cannot read {path}: it is not UTF-8 text") from None


def base_dir(path: str) -> Path:
    return Path.cwd() if path == "-" else Path(path).resolve().parent


def invalid_file(exc: InvalidInput, source: str) -> CliError:
    """A local parse or validation failure, printed as FILE:LINE:COL lines."""
    return CliError(exc.message, problems=exc.problems, source=source)


Subcommands = argparse._SubParsersAction  # argparse exposes no public name for it


def command(
    commands: Subcommands[argparse.ArgumentParser],
    leaf: argparse.ArgumentParser,
    name: str,
    handler: Handler,
    help: str,
) -> argparse.ArgumentParser:
    """Add a command that runs `handler`; `leaf` carries --url/--token/--json."""
    parser = commands.add_parser(name, help=help, description=help, parents=[leaf])
    parser.set_defaults(handler=handler)
    return parser


def group(
    commands: Subcommands[argparse.ArgumentParser], name: str, help: str
) -> Subcommands[argparse.ArgumentParser]:
    """Add a command group such as `broker agents ...`."""
    parser = commands.add_parser(name, help=help, description=help)
    return parser.add_subparsers(dest=f"{name}_command", metavar="COMMAND", required=True)
