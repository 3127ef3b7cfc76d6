"""Real MCP clients against the gateway federating the reference server: the TypeScript SDK
(node), the MCP Inspector CLI, and the Python SDK 1.x (its own venv). `make client-tools`
installs them; the Python SDK 2.x in both eras is covered by the other e2e tests.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from broker.demo.upstreams.serve import BackgroundServer
from tests.conformance.reference_server import build_app
from tests.conformance.suite import NODE_BIN, NODE_DIR, node_env
from tests.conftest import RunningGateway

pytestmark = pytest.mark.filterwarnings("ignore::mcp.shared.exceptions.MCPDeprecationWarning")
ROOT = Path(__file__).parents[2]
PY_MCP1 = ROOT / ".tools" / "mcp1" / "bin" / "python"
SIMPLE = "This is a simple text response for testing."


@dataclass
class Federated:
    gateway: RunningGateway
    key: str


@pytest.fixture
def federated(gateway: RunningGateway) -> Iterator[Federated]:
    with BackgroundServer(build_app()) as reference:
        connector = {
            "kind": "mcp",
            "name": "ref",
            "transport": "http",
            "url": f"{reference.url}/mcp",
            "allow_private_network": True,
        }
        registered = gateway.admin.post("/admin/connectors", json=connector)
        assert registered.status_code == 201, registered.text
        key = gateway.create_agent("client-bot")
        policy = {
            "name": "clients",
            "agents": ["client-bot"],
            "allow": ["ref.*"],
            "resources": {"allow": ["broker://ref/*"]},
            "prompts": {"allow": ["ref.*"]},
        }
        granted = gateway.admin.post("/admin/policies", json={"policies": [policy]})
        assert granted.status_code == 200, granted.text
        yield Federated(gateway, key)


def run(command: list[str], cwd: Path = NODE_DIR) -> str:
    if not Path(command[0]).exists():
        pytest.fail(f"{command[0]} is missing: run `make client-tools`")
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, env=node_env(), cwd=cwd)
    assert done.returncode == 0, f"{command[:3]} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
    return done.stdout


def last_json(output: str) -> Any:
    return json.loads(output.strip().splitlines()[-1])


def test_the_typescript_sdk_gets_a_session_tools_and_progress(federated: Federated) -> None:
    url = federated.gateway.mcp_url
    out = last_json(
        run([str(NODE_BIN / "node"), "ts_client.mjs", url, federated.key, "ref.test_tool_with_progress"])
    )
    assert out["sessionId"]  # a 2025-11-25 client gets a real session
    assert {"ref.test_simple_text", "ref.test_tool_with_progress"} <= set(out["tools"])
    assert out["progress"] == [0, 50, 100]
    assert out["result"]["isError"] is False


def test_the_python_sdk_1x_lists_and_calls_with_progress(federated: Federated) -> None:
    script = str(Path(__file__).with_name("py1_client.py"))
    url = federated.gateway.mcp_url
    out = last_json(run([str(PY_MCP1), script, url, federated.key, "ref.test_tool_with_progress"], cwd=ROOT))
    assert out["protocol"] == "2025-11-25"
    assert "ref.test_simple_text" in out["tools"]
    assert out["progress"] == [0, 50, 100]
    assert out["result"]["isError"] is False


def inspector(federated: Federated, *args: str) -> Any:
    command = [str(NODE_BIN / "mcp-inspector"), "--cli", federated.gateway.mcp_url, "--transport", "http"]
    command += ["--header", f"Authorization: Bearer {federated.key}", *args]
    return json.loads(run(command))


def test_the_inspector_cli_lists_calls_reads_and_gets(federated: Federated) -> None:
    tools = inspector(federated, "--method", "tools/list")
    assert "ref.test_simple_text" in {tool["name"] for tool in tools["tools"]}
    called = inspector(federated, "--method", "tools/call", "--tool-name", "ref.test_simple_text")
    assert called["content"] == [{"type": "text", "text": SIMPLE}]
    name = "ref.test_prompt_with_arguments"
    prompt = inspector(
        federated,
        "--method",
        "prompts/get",
        "--prompt-name",
        name,
        "--prompt-args",
        "arg1=alpha",
        "arg2=beta",
    )
    assert prompt["messages"][0]["content"]["text"] == "Prompt with arguments: arg1='alpha', arg2='beta'"
    read = inspector(federated, "--method", "resources/read", "--uri", "broker://ref/test://static-text")
    assert read["contents"][0]["text"] == "This is the content of the static text resource."
    assert read["contents"][0]["uri"] == "broker://ref/test://static-text"
