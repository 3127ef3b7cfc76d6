"""The OpenAI Agents SDK against the gateway: an Agent whose model is the gateway (chat
completions, and the Responses API) and whose tools are the gateway's MCP server
(MCPServerStreamableHttp), running a task end to end. The mock provider follows the plan in the
prompt the way a model would; PII in the prompt never reaches it in clear and comes back
restored in the final output."""

from __future__ import annotations

import asyncio
import json

import pytest
from agents import (
    Agent,
    OpenAIChatCompletionsModel,
    OpenAIResponsesModel,
    Runner,
    set_tracing_disabled,
)
from agents.mcp import MCPServerStreamableHttp

from tests.llm.conftest import LlmSetup
from tests.llm.mailbox import EMAIL, Mailbox, audit

ME = "carol.jones@example.net"
PLAN = '[[call:mail.top_contact {}]] [[call:mail.send {"to": "{{email}}", "text": "Sunny in NYC"}]] [[echo]]'


def guard_prompts(llm: LlmSetup) -> None:
    """Agent bot's guardrails mask PII in prompts with tokens (the answer gets the values back)."""
    policy = {
        "name": "bot-guardrails", "agents": ["bot"], "allow": [],
        "masking": {"entities": {"EMAIL_ADDRESS": "token"}},
        "guardrails": {"pii": "mask"},
    }  # fmt: skip
    response = llm.gateway.admin.post("/admin/policies", json={"policies": [policy]})
    assert response.status_code == 200, response.text


async def run_agent(llm: LlmSetup, api: str, *, stream: bool = False) -> str:
    set_tracing_disabled(True)
    client = llm.async_openai()
    model = (
        OpenAIChatCompletionsModel(model="fast", openai_client=client)
        if api.startswith("chat")
        else OpenAIResponsesModel(model="fast", openai_client=client)
    )
    params = {"url": llm.gateway.mcp_url, "headers": {"Authorization": f"Bearer {llm.key}"}}
    async with MCPServerStreamableHttp(params=params, name="broker", cache_tools_list=True) as broker:  # type: ignore[arg-type]
        agent = Agent(
            name="mailer",
            instructions="You e-mail our clients.",
            model=model,
            mcp_servers=[broker],
        )
        task = f"E-mail our top contact about the weather, from {ME}. {PLAN}"
        if not stream:
            return str((await Runner.run(agent, task)).final_output)
        streamed = Runner.run_streamed(agent, task)
        async for _event in streamed.stream_events():
            pass
        return str(streamed.final_output)


@pytest.mark.parametrize("api", ["chat", "chat-streamed", "responses", "responses-streamed"])
def test_an_agent_runs_its_task_through_the_gateways_model_and_mcp_tools(
    llm: LlmSetup, mail: Mailbox, api: str
) -> None:
    guard_prompts(llm)
    output = asyncio.run(run_agent(llm, api, stream=api.endswith("streamed")))
    assert output.startswith("Done: mail.top_contact mail.send")
    assert ME in output  # the model answered with a token; the gateway put the address back
    assert mail.sent == [{"to": EMAIL, "text": "Sunny in NYC"}]  # the CRM got the real address
    seen_by_model = json.dumps([r.body for r in llm.mock.received])
    assert ME not in seen_by_model and EMAIL not in seen_by_model
    assert seen_by_model.count("<EMAIL_ADDRESS_") >= 2
    assert len(llm.mock.received) == 3
    records = audit(llm.gateway.database_url, 2)
    assert [(r.tool, r.outcome) for r in records] == [("mail.top_contact", "ok"), ("mail.send", "ok")]
    rows = llm.ledger(3)
    assert {row.endpoint for row in rows} == {api.removesuffix("-streamed")}
    assert all(row.guardrails for row in rows)  # every step's prompt was masked, and recorded
