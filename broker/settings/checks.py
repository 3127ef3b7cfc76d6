"""Checks of settings that need more than a type: the database URL names an installed driver."""

from __future__ import annotations

_DATABASE_EXAMPLES = "postgresql+psycopg://user:password@host:5432/broker or sqlite:///broker.db"


class SettingsError(ValueError):
    """The environment holds a setting the broker cannot use; the message names each one."""


def check_database_url(url: str) -> str:
    """A SQLAlchemy URL whose dialect and driver are installed; ValueError saying what to write."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ValueError(f"is not a database URL; write {_DATABASE_EXAMPLES}") from None
    if parsed.drivername in ("postgres", "postgresql", "postgresql+psycopg2"):
        raise ValueError(
            f"'{parsed.drivername}://' is not a driver the broker has; write {_DATABASE_EXAMPLES}"
        )
    try:
        parsed.get_dialect().import_dbapi()
    except (NoSuchModuleError, ImportError):
        raise ValueError(
            f"names the database driver '{parsed.drivername}', which is not installed; "
            f"write {_DATABASE_EXAMPLES}"
        ) from None
    if parsed.get_backend_name() != "sqlite" and not parsed.database:
        raise ValueError(f"names no database; write {_DATABASE_EXAMPLES}")
    return url
