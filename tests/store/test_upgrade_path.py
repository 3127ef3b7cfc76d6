"""The documented upgrade path: a database filled at the first schema revision that holds data
is upgraded to the head by `broker db upgrade`, and the current gateway serves what it held."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import httpx
from sqlalchemy import text

from broker.keys import hash_key, new_key
from broker.store.db import make_engine
from broker.store.migrate import upgrade
from tests.conftest import start_gateway

ROOT = Path(__file__).resolve().parents[2]
FIRST = "0001"


def fill_first_release(url: str) -> str:
    """Rows as the first release wrote them: an agent with a key, a policy, an audit record."""
    key = new_key()
    now = datetime.now(UTC)
    engine = make_engine(url)
    with engine.begin() as db:
        db.execute(
            text("INSERT INTO agents (id, name, team, description, enabled, created_at) "
                 "VALUES ('a1', 'bot', 'support', 'from the first release', true, :now)"),
            {"now": now},
        )  # fmt: skip
        db.execute(
            text("INSERT INTO api_keys (id, agent_id, key_hash, prefix, label, created_at) "
                 "VALUES ('k1', 'a1', :hash, :prefix, 'old', :now)"),
            {"hash": hash_key(key), "prefix": key[:12], "now": now},
        )  # fmt: skip
        policies = '[{"name": "bot-weather", "agents": ["bot"], "allow": ["weather.*"]}]'
        db.execute(
            text("INSERT INTO policy_revisions (revision, policies, created_at, source) "
                 "VALUES (1, :policies, :now, 'api')"),
            {"policies": policies, "now": now},
        )  # fmt: skip
        db.execute(
            text("INSERT INTO audit_records (ts, request_id, agent, team, tool, decision, reason, outcome, "
                 "latency_ms, argument_names, policy_revision) VALUES (:now, 'r1', 'bot', 'support', "
                 "'weather.current', 'allow', 'granted', 'ok', 12.5, '[]', 1)"),
            {"now": now},
        )  # fmt: skip
        db.execute(text("UPDATE state_revision SET revision = 3 WHERE id = 1"))
    engine.dispose()
    return key


def test_a_first_release_database_upgrades_and_serves(database_url: str) -> None:
    upgrade(database_url, FIRST)
    key = fill_first_release(database_url)
    env = {"BROKER_DATABASE_URL": database_url, "PATH": "/usr/bin:/bin"}
    behind = subprocess.run(
        [sys.executable, "-m", "broker.cli.main", "db", "current"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert behind.returncode == 1 and f"database: {FIRST}" in behind.stdout
    done = subprocess.run(
        [sys.executable, "-m", "broker.cli.main", "db", "upgrade"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr

    server, gateway = start_gateway(database_url, auto_migrate=False)
    try:
        assert httpx.get(f"{gateway.url}/readyz").status_code == 200
        agents = gateway.admin.get("/admin/agents").json()
        assert [(a["name"], a["team"]) for a in agents] == [("bot", "support")]
        policies = gateway.admin.get("/admin/policies").json()
        assert [p["name"] for p in policies["policies"]] == ["bot-weather"]
        audit = gateway.admin.get("/admin/audit").json()
        assert [r["request_id"] for r in audit] == ["r1"]
        models = httpx.get(f"{gateway.url}/v1/models", headers={"Authorization": f"Bearer {key}"})
        assert models.status_code == 200  # the old key still authenticates
    finally:
        gateway.admin.close()
        server.stop()
