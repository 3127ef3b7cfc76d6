"""`broker serve`, `broker db upgrade|current` (and `broker migrate`), `broker demo`: run the gateway.

A setting the broker cannot use, or a database it cannot reach, is one line saying what is
wrong and what to write instead, not a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
from typing import Any

from fastapi import FastAPI
from sqlalchemy.engine import make_url

from broker.cli.context import Context, Subcommands, command, group
from broker.cli.errors import CliError
from broker.settings import Settings, SettingsError, load_settings


def register(commands: Subcommands[argparse.ArgumentParser], leaf: argparse.ArgumentParser) -> None:
    parser = command(commands, leaf, "serve", serve, "run the gateway (settings from BROKER_* variables)")
    parser.add_argument("--host", help="listen address (default BROKER_HOST or 127.0.0.1)")
    parser.add_argument("--port", type=int, help="listen port (default BROKER_PORT or 8000)")
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes, each a full gateway on the same port (needs BROKER_REDIS_URL when > 1)",
    )
    db = group(commands, "db", "the database schema: upgrade it, show its revision")
    command(db, leaf, "upgrade", migrate, "apply the migrations this version needs (BROKER_DATABASE_URL)")
    command(db, leaf, "current", current, "show the schema revision of the database and the one expected")
    command(commands, leaf, "migrate", migrate, "the same as `broker db upgrade` (BROKER_DATABASE_URL)")
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
    from connectors.outbound import OutboundConfigError

    overrides = {k: v for k, v in (("host", ctx.args.host), ("port", ctx.args.port)) if v is not None}
    settings = _settings(**overrides)
    workers: int = ctx.args.workers
    if workers < 1:
        raise CliError("--workers must be 1 or more")
    if workers > 1 and not settings.redis_url:
        raise CliError(
            "--workers needs BROKER_REDIS_URL: without Redis each worker keeps its own budgets, rate limits "
            "and cache, and learns of changes only by polling. Run one worker per instance instead."
        )
    if settings.auto_migrate:  # here, once: a failure is one line, and N workers do not race to migrate
        _migrate(settings.database_url)
        settings = settings.model_copy(update={"auto_migrate": False})
    try:
        app = create_app(settings)  # in the parent too: a configuration error shows here, once
    except (SecretKeyError, OutboundConfigError, ValueError) as exc:  # settings that do not fit together
        raise CliError(f"cannot start: {exc}") from None
    options = server_options(settings)
    if settings.log_format == "json":
        options["log_config"] = None  # the app configures JSON lines on the root logger
    if workers == 1:
        uvicorn.run(app, host=settings.host, port=settings.port, log_level=settings.log_level, **options)
        return 0
    # The workers are fresh processes that read their settings from the environment.
    os.environ.update(BROKER_HOST=settings.host, BROKER_PORT=str(settings.port), BROKER_AUTO_MIGRATE="false")
    options["http"] = "broker.cli.server:WorkerHttpProtocol"  # a class made at run time does not pickle
    uvicorn.run(
        "broker.cli.server:worker_app",
        factory=True,
        workers=workers,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        timeout_worker_healthcheck=60,  # a worker importing the app on a busy machine is not hung
        **options,
    )
    return 0


def __getattr__(name: str) -> Any:
    """`WorkerHttpProtocol`: the guarded HTTP protocol (broker/serving.py) of a `--workers`
    process, made from its settings when uvicorn imports it by name in the worker."""
    if name == "WorkerHttpProtocol":
        from broker.serving import server_options

        return server_options(Settings())["http"]
    raise AttributeError(name)


def worker_app() -> FastAPI:
    """The app of one `--workers` process (uvicorn imports this by name in each worker)."""
    from broker.app import create_app

    return create_app(Settings())


def migrate(ctx: Context) -> int:
    url = _settings().database_url
    _migrate(url)
    ctx.out.line(f"the database at {_shown(url)} is up to date")
    return 0


def current(ctx: Context) -> int:
    from broker.store.migrate import schema_revisions

    found, expected = schema_revisions(_settings().database_url)
    ctx.out.line(f"database: {found or 'empty (no schema)'}")
    ctx.out.line(f"expected: {expected}")
    if found != expected:
        ctx.out.line("run `broker db upgrade` (back the database up first: see docs/operations.md)")
        return 1
    return 0


def demo(ctx: Context) -> int:
    run = importlib.import_module("broker.demo.run")  # imported late: it pulls in the demo upstreams
    code = run.main()
    return code if isinstance(code, int) else 0
