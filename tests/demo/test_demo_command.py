"""`broker demo` as a newcomer runs it: a process that prints how to connect and writes
.demo/connection.json, whose keys work with a real MCP client."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.conftest import free_port
from tests.e2e.helpers import mcp_client

BROKER = Path(sys.executable).with_name("broker")


async def test_demo_prints_and_writes_working_connection_facts(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "BROKER_PORT": str(port)}
    env.pop("BROKER_ADMIN_TOKEN", None)
    process = subprocess.Popen(
        [str(BROKER), "demo"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    connection_file = tmp_path / ".demo" / "connection.json"
    try:
        deadline = time.monotonic() + 90
        while not connection_file.exists():
            assert process.poll() is None, process.stdout.read() if process.stdout else ""
            assert time.monotonic() < deadline, "the demo did not write connection.json in 90 s"
            time.sleep(0.2)
        time.sleep(0.2)  # the file is written in one go; give the banner a moment too
        facts = json.loads(connection_file.read_text())
        assert facts["mcp_url"] == f"http://127.0.0.1:{port}/mcp"
        assert {a["name"] for a in facts["agents"]} == {"support-bot", "analyst"}
        for agent in facts["agents"]:
            async with mcp_client(facts["mcp_url"], agent["key"]) as client:
                listed = [t.name for t in (await client.list_tools()).tools]
            assert listed == agent["tools"] and listed
        admin = httpx.get(
            f"{facts['admin_url']}/agents", headers={"Authorization": f"Bearer {facts['admin_token']}"}
        )
        assert admin.status_code == 200
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output
    assert "MCP endpoint" in output and '"mcpServers"' in output
    assert "Traceback" not in output
