from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from broker.secrets.keys import Cipher, generate_key
from broker.store.db import make_engine, make_sessionmaker
from broker.store.migrate import upgrade
from tests.conftest import RunningGateway, start_gateway


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """A migrated database: SQLite and PostgreSQL alike."""
    upgrade(database_url)
    built = make_engine(database_url)
    yield built
    built.dispose()


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return make_sessionmaker(engine)


@pytest.fixture
def key() -> str:
    return generate_key()


@pytest.fixture
def cipher(key: str) -> Cipher:
    return Cipher([key])


@pytest.fixture
def keyed_gateway(tmp_path: Path, key: str) -> Iterator[RunningGateway]:
    """The real gateway with a secret store key."""
    server, running = start_gateway(f"sqlite:///{tmp_path / 'broker.db'}", secret_keys=SecretStr(key))
    try:
        yield running
    finally:
        running.admin.close()
        server.stop()


@pytest.fixture
def keyless_gateway(tmp_path: Path) -> Iterator[RunningGateway]:
    """The real gateway started without a secret store key."""
    server, running = start_gateway(f"sqlite:///{tmp_path / 'broker.db'}", secret_keys=None)
    try:
        yield running
    finally:
        running.admin.close()
        server.stop()


def api_connector(
    url: str, name: str = "api", extra: dict[str, Any] | None = None, **auth: Any
) -> dict[str, Any]:
    """An http connector authenticated with a bearer secret (by default `api-token`)."""
    return {
        "kind": "http",
        "name": name,
        "base_url": url,
        **(extra or {}),
        "auth": {"type": "bearer", "secret": "api-token", **auth},
        "tools": [
            {"name": "whoami", "description": "Who the upstream thinks we are.", "path": "/bearer"},
            {"name": "crash", "description": "Fails, echoing the request.", "path": "/reflect-error"},
            {"name": "echo", "description": "Answers with the request.", "path": "/reflect"},
        ],
    }
