"""MCP tasks (2025-11-25) through the gateway, with a raw HTTP client that follows the spec.

The upstream (tests/e2e/tasks_upstream.py) runs `report` as a task. Through the gateway:
tools/list keeps `execution.taskSupport`; a task-augmented call starts the upstream task and
answers with a gateway task id; tasks/get, tasks/list, tasks/result and tasks/cancel work for
the caller that started it and, for any other caller, the task does not exist; the result and
the status message are masked like any result; a cancellation reaches the upstream.
"""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from broker.demo.upstreams.serve import BackgroundServer
from tests.conformance.suite import NODE_BIN, NODE_DIR, node_env
from tests.conftest import RunningGateway
from tests.e2e.tasks_upstream import EMAIL, Upstream, create_app

VERSION = "2025-11-25"


class Session:
    """A 2025-11-25 client session over plain HTTP (JSON or SSE answers, as the spec allows)."""

    def __init__(self, url: str, key: str, capabilities: dict[str, Any] | None = None) -> None:
        self.url = url
        self.headers = {"Authorization": f"Bearer {key}", "Accept": "application/json, text/event-stream"}
        self.next_id = 0
        hello = {"name": "raw", "version": "1"}
        said = {"protocolVersion": VERSION, "capabilities": capabilities or {}, "clientInfo": hello}
        result = self.request("initialize", said)
        assert result["result"]["protocolVersion"] == VERSION
        self.capabilities = result["result"]["capabilities"]
        self.headers["MCP-Protocol-Version"] = VERSION
        sent = httpx.post(
            url, json={"jsonrpc": "2.0", "method": "notifications/initialized"}, headers=self.headers
        )
        assert sent.status_code == 202, sent.text

    def request(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        self.next_id += 1
        body = {"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params}
        response = httpx.post(self.url, json=body, headers=self.headers, timeout=30)
        assert response.status_code == 200, response.text
        if "mcp-session-id" in response.headers:
            self.headers["Mcp-Session-Id"] = response.headers["mcp-session-id"]
        if response.headers["content-type"].startswith("text/event-stream"):
            messages = [
                json.loads(line[5:]) for line in response.text.splitlines() if line.startswith("data:")
            ]
            answer: dict[str, Any] = next(m for m in messages if m.get("id") == self.next_id)
            return answer
        answered: dict[str, Any] = response.json()
        return answered

    def result(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        answer = self.request(method, params)
        assert "result" in answer, answer
        result: dict[str, Any] = answer["result"]
        return result


@pytest.fixture
def upstream() -> Iterator[tuple[Upstream, str]]:
    state = Upstream()
    with BackgroundServer(create_app(state)) as server:
        yield state, f"{server.url}/mcp"


@pytest.fixture
def keys(gateway: RunningGateway, upstream: tuple[Upstream, str]) -> dict[str, str]:
    connector = {
        "kind": "mcp",
        "name": "up",
        "transport": "http",
        "url": upstream[1],
        "allow_private_network": True,
    }
    registered = gateway.admin.post("/admin/connectors", json=connector)
    assert registered.status_code == 201, registered.text
    keys = {name: gateway.create_agent(name) for name in ("alice-bot", "bob-bot")}
    policies = [
        {
            "name": "tasks",
            "agents": ["alice-bot", "bob-bot"],
            "allow": ["up.*"],
            "masking": {"default_operator": "replace"},
        }
    ]
    applied = gateway.admin.post("/admin/policies", json={"policies": policies})
    assert applied.status_code == 200, applied.text
    return keys


def test_tasks_run_under_the_callers_identity(
    gateway: RunningGateway, upstream: tuple[Upstream, str], keys: dict[str, str]
) -> None:
    state, _ = upstream
    alice, bob = Session(gateway.mcp_url, keys["alice-bot"]), Session(gateway.mcp_url, keys["bob-bot"])
    assert alice.capabilities["tasks"]["requests"] == {"tools": {"call": {}}}

    tools = {tool["name"]: tool for tool in alice.result("tools/list", {})["tools"]}
    assert tools["up.report"]["execution"] == {"taskSupport": "optional"}
    assert "execution" not in tools["up.quick"]

    started = alice.result(
        "tools/call", {"name": "up.report", "arguments": {"topic": "q3"}, "task": {"ttl": 60000}}
    )
    task = started["task"]
    task_id = task["taskId"]
    assert task["status"] == "working" and task_id not in state.tasks  # the gateway's id, not the upstream's
    assert EMAIL not in json.dumps(started) and "<EMAIL_ADDRESS>" in task["statusMessage"]

    for method in ("tasks/get", "tasks/result", "tasks/cancel"):  # as if bob's id did not exist
        refused = bob.request(method, {"taskId": task_id})
        assert refused["error"]["code"] == -32602, refused
    assert bob.result("tasks/list", {})["tasks"] == []
    assert bob.request("tasks/list", {"cursor": "not-a-cursor"})["error"]["code"] == -32602
    assert state.cancelled == []

    assert [t["taskId"] for t in alice.result("tasks/list", {})["tasks"]] == [task_id]
    assert alice.result("tasks/get", {"taskId": task_id})["status"] == "working"
    state.release.set()
    result = alice.result("tasks/result", {"taskId": task_id})
    assert result["content"] == [{"type": "text", "text": "report on q3 for <EMAIL_ADDRESS>"}]
    assert result["_meta"]["io.modelcontextprotocol/related-task"] == {"taskId": task_id}
    assert alice.result("tasks/get", {"taskId": task_id})["status"] == "completed"

    state.release.clear()
    second = alice.result("tools/call", {"name": "up.report", "arguments": {"topic": "q4"}, "task": {}})[
        "task"
    ]
    cancelled = alice.result("tasks/cancel", {"taskId": second["taskId"]})
    assert cancelled["status"] == "cancelled" and cancelled["taskId"] == second["taskId"]
    assert len(state.cancelled) == 1 and state.tasks[state.cancelled[0]]["status"] == "cancelled"

    refused = alice.request("tools/call", {"name": "up.quick", "arguments": {}, "task": {}})
    assert refused["error"]["code"] == -32601 and "up.quick" in refused["error"]["message"]
    plain = alice.result("tools/call", {"name": "up.quick", "arguments": {}})
    assert plain["content"] == [{"type": "text", "text": "quick done"}]

    again = Session(gateway.mcp_url, keys["alice-bot"])  # tasks belong to the caller, not the session
    assert {t["taskId"] for t in again.result("tasks/list", {})["tasks"]} == {task_id, second["taskId"]}
    asking = Session(gateway.mcp_url, keys["alice-bot"], {"elicitation": {}})  # plain calls: a 2025 slot
    third = asking.result("tools/call", {"name": "up.report", "arguments": {}, "task": {}})["task"]
    assert again.result("tasks/get", {"taskId": third["taskId"]})["status"] == "working"
    assert asking.result("tasks/cancel", {"taskId": third["taskId"]})["status"] == "cancelled"

    records = gateway.admin.get("/admin/audit", params={"agent": "alice-bot", "limit": 50}).json()
    records = records["records"] if isinstance(records, dict) else records
    reports = [r for r in records if r["tool"] == "up.report"]
    assert reports and all(r["decision"] == "allow" for r in reports)  # every step is audited
    assert "q3" not in json.dumps(records)

    only_quick = [{"name": "tasks", "agents": ["alice-bot", "bob-bot"], "allow": ["up.quick"]}]
    applied = gateway.admin.post("/admin/policies", json={"policies": only_quick})
    assert applied.status_code == 200, applied.text
    revoked = alice.request("tasks/get", {"taskId": task_id})  # authorised like the call itself
    assert revoked["error"]["code"] == -32602, revoked
    assert "tasks" not in Session(gateway.mcp_url, keys["alice-bot"]).capabilities  # no task tool left


def test_the_typescript_sdk_runs_a_tool_as_a_task(
    gateway: RunningGateway, upstream: tuple[Upstream, str], keys: dict[str, str]
) -> None:
    state, _ = upstream
    state.release.set()  # the task finishes as soon as it starts: the client polls, then reads it
    node = [str(NODE_BIN / "node"), "ts_tasks.mjs", gateway.mcp_url, keys["alice-bot"], "up.report"]
    if not Path(node[0]).exists():
        pytest.fail(f"{node[0]} is missing: run `make client-tools`")
    done = subprocess.run(node, capture_output=True, text=True, timeout=120, env=node_env(), cwd=NODE_DIR)
    assert done.returncode == 0, f"node failed:\n{done.stdout}\n{done.stderr}"
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["serverTasks"]["requests"] == {"tools": {"call": {}}}
    assert out["execution"] == {"up.report": {"taskSupport": "optional"}, "up.quick": None}
    assert out["types"][0] == "taskCreated" and out["types"][-1] == "result", out
    assert out["taskId"] not in state.tasks and len(state.tasks) == 1
    assert out["result"]["content"] == [{"type": "text", "text": "report on ts for <EMAIL_ADDRESS>"}]
    assert out["listedTasks"] == [out["taskId"]] and out["status"] == "completed"


def test_tasks_result_waits_for_a_task_longer_than_the_upstream_timeout(
    gateway: RunningGateway, upstream: tuple[Upstream, str], keys: dict[str, str]
) -> None:
    """tasks/result blocks until the task is done: the gateway polls tasks/get first, so no
    upstream request stays open past the connector's `timeout_seconds` (1 s here)."""
    state, url = upstream
    brief = {"kind": "mcp", "name": "brief", "transport": "http", "url": url, "allow_private_network": True}
    registered = gateway.admin.post("/admin/connectors", json={**brief, "timeout_seconds": 1})
    assert registered.status_code == 201, registered.text
    policy = {
        "name": "tasks",
        "agents": ["alice-bot"],
        "allow": ["brief.*"],
        "masking": {"default_operator": "replace"},
    }
    assert gateway.admin.post("/admin/policies", json={"policies": [policy]}).status_code == 200
    alice = Session(gateway.mcp_url, keys["alice-bot"])
    task_id = alice.result("tools/call", {"name": "brief.report", "arguments": {"topic": "q1"}, "task": {}})[
        "task"
    ]["taskId"]
    answers: list[dict[str, Any]] = []
    waiting = threading.Thread(
        target=lambda: answers.append(alice.request("tasks/result", {"taskId": task_id}))
    )
    waiting.start()
    seen = state.polls
    while state.polls < seen + 40 and waiting.is_alive():  # 40 polls 50 ms apart: past the timeout
        waiting.join(0.05)
    state.release.set()
    waiting.join(30)
    assert answers and answers[0]["result"]["content"] == [
        {"type": "text", "text": "report on q1 for <EMAIL_ADDRESS>"}
    ]
