"""`broker serve`, `broker migrate` and `broker demo`: run the gateway itself.

A setting the broker cannot use, or a database it cannot reach, is one line saying what is
wrong and what to write instead, not a traceback.
"""

from __future__ import annotations

import argparse
import importlib

from sqlalchemy.engine import make_url

from broker.cli.context import Context, Subcommands, command
from broker.cli.errors import CliError
from broker.settings import Settings, SettingsError, load_settings


def register(commands: Subcommands[argparse.ArgumentParser], leaf: argparse.ArgumentParser) -> None:
    parser = command(commands, leaf, "serve", serve, "run the gateway (settings from BROKER_* variables)")
    parser.add_argument("--host", help="listen address (default BROKER_HOST or 127.0.0.1)")
    parser.add_argument("--port", type=int, help="listen port (default BROKER_PORT or 8000)")
    command(commands, leaf, "migrate", migrate, "create or upgrade the database schema (BROKER_DATABASE_URL)")
    command(commands, leaf, "demo", demo, "run a local demo: gateway, demo upstreams, agents and policies")


def _settings(**overrides: object) -> Settings:
    try:
        return load_settings(**overrides)
    except SettingsError as exc:
        raise CliError(f"cannot start: {exc}") from None


def _shown(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def _migrate(url: str) -> None:
    """Create or upgrade the schema; CliError with the driver's first line when it cannot."""
    from sqlalchemy.exc import DBAPIError, OperationalError

    from broker.store.migrate import upgrade

    try:
        upgrade(url)
    except (OperationalError, DBAPIError) as exc:
        reason = str(exc.orig or exc).strip().splitlines()[0][:300]
        raise CliError(
            f"cannot reach the database at {_shown(url)}: {reason}. Check BROKER_DATABASE_URL and that the "
            "server is running"
        ) from None


def serve(ctx: Context) -> int:
    import uvicorn

    from broker.app import create_app
    from broker.secrets.errors import SecretKeyError
    from broker.serving import server_options

    overrides = {k: v for k, v in (("host", ctx.args.host), ("port", ctx.args.port)) if v is not None}
    settings = _settings(**overrides)
    if settings.auto_migrate:  # here rather than in the app's start-up: a failure is one line
        _migrate(settings.database_url)
        settings = settings.model_copy(update={"auto_migrate": False})
    try:
        app = create_app(settings)
    except SecretKeyError as exc:
        raise CliError(f"cannot start: {exc}") from None
    uvicorn.run(
        app, host=settings.host, port=settings.port, log_level=settings.log_level, **server_options(settings)
    )
    return 0


def migrate(ctx: Context) -> int:
    url = _settings().database_url
    _migrate(url)
    ctx.out.line(f"the database at {_shown(url)} is up to date")
    return 0


def demo(ctx: Context) -> int:
    run = importlib.import_module("broker.demo.run")  # imported late: it pulls in the demo upstreams
    code = run.main()
    return code if isinstance(code, int) else 0
