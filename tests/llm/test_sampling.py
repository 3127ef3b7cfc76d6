"""Sampling requests of an upstream MCP tool answered by the gateway's own LLM proxy.

A real upstream MCP server on loopback whose tool asks for sampling, the demo's mock LLM
provider behind the proxy, a real mcp SDK client that does not declare sampling, and
`broker usage` run as a separate process, as an operator would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import httpx2
import mcp_types as types
import pytest
from mcp.client.client import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.resolve import Elicit, Resolve, Sample
from pydantic import BaseModel

from broker.demo.upstreams.serve import BackgroundServer
from tests.e2e.helpers import MODES
from tests.llm.conftest import LlmSetup

pytestmark = pytest.mark.filterwarnings("ignore::mcp.shared.exceptions.MCPDeprecationWarning")
EMAIL = "jane.roe@example.com"
BROKER = str(Path(sys.executable).with_name("broker"))


def ask_model(topic: str) -> Sample:
    question = types.TextContent(type="text", text=f"Summarise {topic} for {EMAIL}")
    return Sample(
        [types.SamplingMessage(role="user", content=question)],
        max_tokens=4000,
        system_prompt="Be brief.",
    )


class Consent(BaseModel):
    share: bool


def ask_user(topic: str) -> Elicit[Consent]:
    return Elicit(f"Summarise {topic} for {EMAIL}?", Consent)


def upstream_app() -> Any:
    server: MCPServer[Any] = MCPServer(name="sampling-upstream")

    @server.tool()
    async def consented(
        topic: str,
        consent: Annotated[Consent, Resolve(ask_user)],
        answer: Annotated[types.CreateMessageResult, Resolve(ask_model)],
    ) -> str:
        """Asks the user, then the model."""
        text = answer.content.text if isinstance(answer.content, types.TextContent) else "?"
        return f"{consent.share} {answer.model}: {text}"

    @server.tool()
    async def summarise(topic: str, answer: Annotated[types.CreateMessageResult, Resolve(ask_model)]) -> str:
        """Summarises a topic with the client's model (sampling)."""
        text = answer.content.text if isinstance(answer.content, types.TextContent) else "?"
        return f"{answer.model}: {text}"

    return server.streamable_http_app()


@pytest.fixture
def upstream() -> Iterator[str]:
    with BackgroundServer(upstream_app()) as server:
        yield f"{server.url}/mcp"


@pytest.fixture
def setup(llm: LlmSetup, upstream: str) -> LlmSetup:
    connector = {"kind": "mcp", "name": "docs", "transport": "http", "url": upstream}
    registered = llm.gateway.admin.post(
        "/admin/connectors", json={**connector, "allow_private_network": True}
    )
    assert registered.status_code == 201, registered.text
    sampling = {"serve_with": "fast", "max_tokens": 64}
    policies = [
        {"name": "docs-tools", "agents": ["bot"], "allow": ["docs.*"], "masking": {}},
        {"name": "docs-sampling", "agents": ["bot"], "allow": [], "sampling": sampling},
    ]
    assert llm.gateway.admin.post("/admin/policies", json={"policies": policies}).status_code == 200
    return llm


async def call_summarise(setup: LlmSetup, mode: str, key: str | None = None) -> types.CallToolResult:
    headers = {"Authorization": f"Bearer {key or setup.key}"}
    url = f"{setup.gateway.url}/mcp"
    async with (
        httpx2.AsyncClient(headers=headers, timeout=30) as http,
        Client(streamable_http_client(url, http_client=http), mode=mode, cache=None) as client,
    ):
        return await client.call_tool("docs.summarise", {"topic": "the plan"})


def text_of(result: types.CallToolResult) -> str:
    return "".join(block.text for block in result.content if isinstance(block, types.TextContent))


def broker_usage(setup: LlmSetup, *args: str) -> subprocess.CompletedProcess[str]:
    gateway = setup.gateway
    env = {**os.environ, "BROKER_ADMIN_URL": gateway.url, "BROKER_ADMIN_TOKEN": gateway.admin_token}
    return subprocess.run(
        [BROKER, "usage", *args], capture_output=True, text=True, timeout=60, env=env, check=False
    )


@pytest.mark.parametrize("mode", MODES)
async def test_the_gateway_answers_sampling_for_a_client_that_cannot(setup: LlmSetup, mode: str) -> None:
    result = await call_summarise(setup, mode)

    assert result.is_error is False, text_of(result)
    assert text_of(result).startswith("fast: ")  # the model the policy names answered
    asked = [r for r in setup.mock.received if r.path.endswith("/chat/completions")]
    assert len(asked) == 1
    body = asked[0].body
    assert body["max_tokens"] == 64  # the upstream asked for 4000; the policy caps it
    assert body["messages"][0] == {"role": "system", "content": "Be brief."}
    prompt = body["messages"][1]["content"]
    assert prompt.startswith("Summarise the plan for ") and EMAIL not in prompt  # masked on the way

    rows = setup.ledger(expected=1)
    assert [(r.agent, r.endpoint, r.connector, r.tool, r.status) for r in rows] == [
        ("bot", "sampling", "docs", "docs.summarise", "ok")
    ]
    assert rows[0].completion_tokens > 0

    shown = broker_usage(setup, "--by", "agent,endpoint,connector,tool", "--period", "today")
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[1].split()[:6] == ["AGENT", "ENDPOINT", "CONNECTOR", "TOOL", "REQUESTS", "ERRORS"]
    assert lines[2].split()[:6] == ["bot", "sampling", "docs", "docs.summarise", "1", "0"]
    report = json.loads(broker_usage(setup, "--by", "tool", "--agent", "bot", "--json").stdout)
    assert report["lines"][0]["group"] == {"tool": "docs.summarise"}


async def test_sampling_is_refused_naming_why(setup: LlmSetup) -> None:
    """Without a sampling section the gateway declares no sampling for the caller, so the upstream
    refuses itself; over budget, the upstream hears that the budget is spent. Nothing reaches the
    provider in either case."""
    other = setup.gateway.create_agent("other-bot", team="support")
    policy = {"name": "other-tools", "agents": ["other-bot"], "allow": ["docs.*"], "models": {"allow": ["*"]}}
    assert setup.gateway.admin.post("/admin/policies", json={"policies": [policy]}).status_code == 200
    refused = await call_summarise(setup, "auto", other)
    assert refused.is_error is True  # declared without sampling, the upstream does not even ask
    assert "did not declare the sampling capability" in text_of(refused)

    setup.apply({"budgets": [{"name": "bot-tiny", "agent": "bot", "period": "day", "tokens": 1}]})
    assert (await call_summarise(setup, "auto")).is_error is False  # spends more than the budget
    over = await call_summarise(setup, "auto")
    assert over.is_error is True
    assert "model 'fast' (policy 'docs-sampling')" in text_of(over) and "bot-tiny" in text_of(over)
    assert len([r for r in setup.mock.received if r.path.endswith("/chat/completions")]) == 1
    statuses = [(r.agent, r.status) for r in setup.ledger(expected=2)]
    assert statuses == [("bot", "ok"), ("bot", "budget_exceeded")]


@pytest.mark.parametrize("prefer", ["client", "gateway"])
async def test_a_client_that_can_sample_is_asked_unless_the_policy_prefers_the_gateway(
    setup: LlmSetup, prefer: str
) -> None:
    policy = {
        "name": "docs-sampling",
        "agents": ["bot"],
        "allow": [],
        "sampling": {"serve_with": "fast", "prefer": prefer},
    }
    assert setup.gateway.admin.post("/admin/policies", json={"policies": [policy]}).status_code == 200
    asked: list[str] = []

    async def on_sample(context: Any, params: types.CreateMessageRequestParams) -> types.CreateMessageResult:
        asked.append(str(params.messages[0].content))
        reply = types.TextContent(type="text", text="from the client")
        return types.CreateMessageResult(role="assistant", content=reply, model="client-model")

    headers = {"Authorization": f"Bearer {setup.key}"}
    url = f"{setup.gateway.url}/mcp"
    async with (
        httpx2.AsyncClient(headers=headers, timeout=30) as http,
        Client(
            streamable_http_client(url, http_client=http),
            mode="legacy",
            cache=None,
            sampling_callback=on_sample,
        ) as client,
    ):
        result = await client.call_tool("docs.summarise", {"topic": "the plan"})

    assert result.is_error is False, text_of(result)
    served = [r for r in setup.mock.received if r.path.endswith("/chat/completions")]
    if prefer == "client":
        assert text_of(result) == "client-model: from the client" and not served
        assert len(asked) == 1 and EMAIL not in asked[0]  # masked on its way to the client too
    else:
        assert text_of(result).startswith("fast: ") and not asked and len(served) == 1


async def test_a_2026_client_answers_the_user_while_the_gateway_answers_the_model(setup: LlmSetup) -> None:
    """The upstream asks the user and the model in input-required rounds: the gateway answers the
    sampling request itself and hands the elicitation to the client, whose retry resumes the call."""
    asked: list[str] = []

    async def on_elicit(context: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        asked.append(params.message)
        return types.ElicitResult(action="accept", content={"share": True})

    headers = {"Authorization": f"Bearer {setup.key}"}
    url = f"{setup.gateway.url}/mcp"
    async with (
        httpx2.AsyncClient(headers=headers, timeout=30) as http,
        Client(
            streamable_http_client(url, http_client=http),
            mode="auto",
            cache=None,
            elicitation_callback=on_elicit,
        ) as client,
    ):
        result = await client.call_tool("docs.consented", {"topic": "the plan"})

    assert result.is_error is False, text_of(result)
    assert text_of(result).startswith("True fast: ")
    assert len(asked) == 1 and EMAIL not in asked[0]
    assert len([r for r in setup.mock.received if r.path.endswith("/chat/completions")]) == 1
    assert [(r.endpoint, r.tool) for r in setup.ledger(expected=1)] == [("sampling", "docs.consented")]
