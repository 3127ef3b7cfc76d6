"""`BROKER_LOG_FORMAT=json`: JSON lines carrying the request id that also names the audit
record and comes back in the reply; no secret and no raw PII in them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.conftest import ADMIN_TOKEN, free_port

ROOT = Path(__file__).resolve().parents[2]
MCP_HEADERS = {
    "Accept": "application/json, text/event-stream",
    "Content-Type": "application/json",
    "MCP-Protocol-Version": "2026-07-28",
    "Mcp-Method": "tools/call",
    "Mcp-Name": "no.such.tool",
}
META = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientInfo": {"name": "test", "version": "1"},
    "io.modelcontextprotocol/clientCapabilities": {},
}


def test_json_logs_carry_the_request_id_and_no_secrets(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "BROKER_DATABASE_URL": f"sqlite:///{tmp_path / 'broker.db'}",
        "BROKER_ADMIN_TOKEN": ADMIN_TOKEN,
        "BROKER_LOG_FORMAT": "json",
        "BROKER_AUDIT_FLUSH_SECONDS": "0.05",
    }
    command = [sys.executable, "-m", "broker.cli.main", "serve", "--port", str(port)]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    admin = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
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
        admin.post("/admin/agents", json={"name": "bot"}).raise_for_status()
        key = admin.post("/admin/agents/bot/keys", json={"label": "t"}).json()["key"]

        body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                "params": {"name": "no.such.tool", "arguments": {}, "_meta": META}}  # fmt: skip
        headers = {**MCP_HEADERS, "Authorization": f"Bearer {key}", "X-Request-Id": "req-mcp-1"}
        reply = httpx.post(f"{url}/mcp", json=body, headers=headers)
        assert reply.headers["x-request-id"] == "req-mcp-1"
        generated = httpx.get(f"{url}/v1/models", headers={"Authorization": "Bearer wrong"})
        assert generated.status_code == 401 and len(generated.headers["x-request-id"]) == 36
        httpx.get(f"{url}/nowhere/alice.smith@example.com")  # PII in a path reaches the access log

        deadline = time.monotonic() + 10
        while not (records := admin.get("/admin/audit").json()):
            assert time.monotonic() < deadline, "no audit record"
            time.sleep(0.05)
        assert records[0]["request_id"] == "req-mcp-1" and records[0]["outcome"] == "unknown_tool"
    finally:
        admin.close()
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)

    not_json = [line for line in stderr.splitlines() if line.strip() and not line.startswith("{")]
    assert not_json == [], not_json
    lines = [json.loads(line) for line in stderr.splitlines() if line.strip()]
    assert lines and all({"ts", "level", "logger", "message"} <= line.keys() for line in lines)
    assert any(line.get("request_id") == "req-mcp-1" for line in lines)
    assert ADMIN_TOKEN not in stderr and key not in stderr
    assert "alice.smith" not in stderr  # sent as alice.smith%40example.com
    assert "<EMAIL_ADDRESS>" in stderr
