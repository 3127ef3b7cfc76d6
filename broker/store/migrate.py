"""Apply alembic migrations from code (`broker db upgrade`, gateway start-up, tests).

On PostgreSQL an upgrade holds an advisory lock, so instances starting together migrate one
after the other (the second finds nothing left to do) instead of racing.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text

from broker.store.db import make_engine

ROOT = Path(__file__).resolve().parents[2]
_LOCK_ID = 0x62726F6B  # "brok": the advisory lock of schema upgrades


def alembic_config(url: str) -> Config:
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    config.attributes["configure_logger"] = False
    return config


def upgrade(url: str, revision: str = "head") -> None:
    if not url.startswith("postgresql"):
        command.upgrade(alembic_config(url), revision)
        return
    engine = make_engine(url)
    try:
        with engine.connect() as lock:
            lock.execute(text("SELECT pg_advisory_lock(:id)"), {"id": _LOCK_ID})
            try:
                command.upgrade(alembic_config(url), revision)
            finally:
                lock.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": _LOCK_ID})
                lock.commit()
    finally:
        engine.dispose()


def downgrade(url: str, revision: str) -> None:
    command.downgrade(alembic_config(url), revision)


def schema_revisions(url: str) -> tuple[str | None, str | None]:
    """(the database's schema revision or None when empty, the revision this code expects)."""
    expected = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            found = MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()
    return found, expected
