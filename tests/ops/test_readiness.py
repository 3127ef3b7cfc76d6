"""/healthz and /readyz on a real gateway: what makes an instance not ready, and draining."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from broker.store.migrate import downgrade, upgrade
from tests.conftest import RunningGateway, free_port, start_gateway

ROOT = Path(__file__).resolve().parents[2]


def test_ready_when_database_schema_and_state_are(gateway: RunningGateway) -> None:
    response = httpx.get(f"{gateway.url}/readyz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ready",
        "checks": {"database": "ok", "state": "ok", "draining": "ok"},
    }


def test_not_ready_while_the_schema_is_behind_the_code(gateway: RunningGateway) -> None:
    downgrade(gateway.database_url, "-1")
    response = httpx.get(f"{gateway.url}/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "not ready" and "broker db upgrade" in body["checks"]["database"]
    assert httpx.get(f"{gateway.url}/healthz").status_code == 200  # alive all the same
    upgrade(gateway.database_url)
    assert httpx.get(f"{gateway.url}/readyz").status_code == 200


def test_not_ready_without_redis(tmp_path: Path) -> None:
    server, gateway = start_gateway(f"sqlite:///{tmp_path / 'b.db'}", redis_url="redis://127.0.0.1:1/0")
    try:
        response = httpx.get(f"{gateway.url}/readyz", timeout=10)
        assert response.status_code == 503
        checks = response.json()["checks"]
        assert checks["redis"].startswith("unreachable") and checks["database"] == "ok"
        assert "127.0.0.1:1" not in response.text  # says what, not where (URLs may hold passwords)
    finally:
        gateway.admin.close()
        server.stop()


def test_sigterm_drains_readiness_first_then_stops(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "BROKER_DATABASE_URL": f"sqlite:///{tmp_path / 'broker.db'}",
        "BROKER_DRAIN_SECONDS": "3",
        "BROKER_LOG_LEVEL": "warning",
    }
    command = [sys.executable, "-m", "broker.cli.main", "serve", "--port", str(port)]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None and time.monotonic() < deadline, "the gateway did not start"
            time.sleep(0.1)
        process.send_signal(signal.SIGTERM)
        draining = httpx.get(f"{url}/readyz")  # still answering: the load balancer hears "not ready"
        assert draining.status_code == 503 and draining.json()["checks"]["draining"].startswith("yes")
        assert httpx.get(f"{url}/healthz").status_code == 200  # and requests are still served
        assert process.wait(30) in (0, -signal.SIGTERM)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
