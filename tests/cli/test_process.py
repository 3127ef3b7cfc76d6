"""The installed `broker` script as a separate process: exit codes, no tracebacks, --follow."""

from __future__ import annotations

import os
import queue
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

from tests.admin.conftest import weather_connector
from tests.conftest import RunningGateway, free_port
from tests.e2e.helpers import mcp_client

BROKER = str(Path(sys.executable).with_name("broker"))


def env(**values: str) -> dict[str, str]:
    return {**os.environ, **values}


def run(*args: str, **values: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [BROKER, *args], capture_output=True, text=True, timeout=60, env=env(**values), check=False
    )


def test_help_and_usage_errors() -> None:
    helped = run("--help")
    assert helped.returncode == 0
    for name in ("apply", "policy", "connectors", "agents", "keys", "audit", "serve", "migrate", "demo"):
        assert name in helped.stdout
    usage = run("agents", "frobnicate")
    assert usage.returncode == 2 and "invalid choice: 'frobnicate'" in usage.stderr


def test_errors_are_one_line_without_a_traceback() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = run("agents", "list", BROKER_ADMIN_URL=url)
    assert result.returncode == 1
    assert result.stderr == f"error: cannot reach the gateway at {url}: is `broker serve` running?\n"


def test_migrate_creates_the_schema(tmp_path: Path) -> None:
    database = tmp_path / "broker.db"
    result = run("migrate", BROKER_DATABASE_URL=f"sqlite:///{database}")
    assert result.returncode == 0, result.stderr
    assert "is up to date" in result.stdout
    with sqlite3.connect(database) as connection:
        tables = {row[0] for row in connection.execute("select name from sqlite_master where type='table'")}
    assert {"agents", "api_keys", "connectors", "policy_revisions", "audit_records"} <= tables


async def test_audit_tail_follow_prints_new_calls(gateway: RunningGateway, weather_upstream: str) -> None:
    key = gateway.create_agent("bot")
    gateway.admin.post("/admin/connectors", json=weather_connector(weather_upstream)).raise_for_status()
    gateway.admin.post(
        "/admin/policies", json={"policies": [{"name": "p", "agents": ["bot"], "allow": ["weather.*"]}]}
    ).raise_for_status()
    process = subprocess.Popen(
        [BROKER, "audit", "tail", "--follow", "--interval", "0.1", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env(BROKER_ADMIN_URL=gateway.url, BROKER_ADMIN_TOKEN=gateway.admin_token),
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in process.stdout or []], daemon=True).start()
    try:
        time.sleep(0.5)  # it is polling now, with nothing to print yet
        assert lines.empty()
        async with mcp_client(gateway.mcp_url, key) as client:
            await client.call_tool("weather.current", {"city": "Paris"})
        line = lines.get(timeout=10)
        assert '"tool": "weather.current"' in line and '"outcome": "ok"' in line
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_a_setting_the_broker_cannot_use_is_one_line_saying_what_to_write() -> None:
    for command in ("migrate", "serve"):
        result = run(command, BROKER_DATABASE_URL="postgres://")
        assert result.returncode == 1
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert "BROKER_DATABASE_URL" in lines[0] and "postgresql+psycopg://" in lines[0]
    bad_port = run("serve", BROKER_PORT="eighty")
    assert bad_port.returncode == 1 and bad_port.stderr.count("\n") == 1
    assert "BROKER_PORT" in bad_port.stderr


def test_an_unreachable_database_is_one_line() -> None:
    port = free_port()  # nothing listens there
    result = run("migrate", BROKER_DATABASE_URL=f"postgresql+psycopg://postgres@127.0.0.1:{port}/x")
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "cannot reach the database" in result.stderr and "Traceback" not in result.stderr
