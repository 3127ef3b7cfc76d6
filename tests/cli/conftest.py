"""Run `broker` in-process against the real gateway, capturing what it prints."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from broker.cli.main import main
from tests.conftest import RunningGateway


@dataclass
class Result:
    code: int
    out: str
    err: str


Broker = Callable[..., Result]


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str]) -> Broker:
    """`run_cli("agents", "list")` runs the CLI with the environment as it is."""

    def run(*argv: str) -> Result:
        capsys.readouterr()
        code = main(list(argv))
        out, err = capsys.readouterr()
        return Result(code, out, err)

    return run


@pytest.fixture
def broker(gateway: RunningGateway, run_cli: Broker, monkeypatch: pytest.MonkeyPatch) -> Broker:
    """The CLI pointed at the test gateway through BROKER_ADMIN_URL / BROKER_ADMIN_TOKEN."""
    monkeypatch.setenv("BROKER_ADMIN_URL", gateway.url)
    monkeypatch.setenv("BROKER_ADMIN_TOKEN", gateway.admin_token)
    return run_cli
