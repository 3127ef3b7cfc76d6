"""`broker completion SHELL`: a completion script generated from the parser itself (shtab),
so it always knows every command and option.

    broker completion bash > ~/.local/share/bash-completion/completions/broker
    broker completion zsh > "${fpath[1]}/_broker"
"""

from __future__ import annotations

import argparse

from broker.cli.context import Context, Subcommands, command

SHELLS = ("bash", "zsh", "tcsh")


def register(commands: Subcommands[argparse.ArgumentParser], leaf: argparse.ArgumentParser) -> None:
    parser = command(
        commands, leaf, "completion", completion, "print a shell completion script (bash, zsh or tcsh)"
    )
    parser.add_argument("shell", choices=SHELLS)


def completion(ctx: Context) -> int:
    import shtab

    from broker.cli.main import build_parser  # the whole parser, every command loaded

    ctx.out.line(shtab.complete(build_parser(), shell=ctx.args.shell))
    return 0
