"""`broker login`: an operator signs in with a device code; the CLI then acts with their role."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from broker.cli.main import main
from tests.identity.conftest import OAuthSetup


def approve_when_asked(oauth: OAuthSetup, user: dict[str, object]) -> threading.Thread:
    def approve() -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            for device in list(oauth.idp.devices.values()):
                oauth.idp.approve_device(str(device["user_code"]), user)
                return
            time.sleep(0.05)

    thread = threading.Thread(target=approve, daemon=True)
    thread.start()
    return thread


def test_broker_login_signs_in_with_a_device_code(
    oauth: OAuthSetup, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    login_file = tmp_path / "login.json"
    monkeypatch.setenv("BROKER_LOGIN_FILE", str(login_file))
    monkeypatch.setenv("BROKER_ADMIN_URL", oauth.gateway.url)
    monkeypatch.delenv("BROKER_ADMIN_TOKEN", raising=False)
    user = {"sub": "ava", "email": "ava@example.com", "roles": ["broker-auditor"]}
    approver = approve_when_asked(oauth, user)
    assert main(["login", "--client-id", "broker-cli"]) == 0
    approver.join()
    assert "confirm the code" in capsys.readouterr().err
    assert login_file.stat().st_mode & 0o777 == 0o600

    assert main(["admin-log", "--json"]) == 0  # an auditor reads
    capsys.readouterr()
    assert main(["agents", "create", "cli-bot"]) == 1  # and changes nothing
    assert "the auditor role may not POST /admin/agents" in capsys.readouterr().err

    assert main(["logout"]) == 0
    assert main(["admin-log"]) == 1
    assert "broker login" in capsys.readouterr().err
