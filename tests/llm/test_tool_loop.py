"""The gateway running the tool loop: /v1/chat/completions with the agent's MCP tools, through
the real gateway, a local upstream and the mock provider (which follows `[[call:...]]` scripts
the way a model would call tools)."""

from __future__ import annotations

import json
from typing import Any

import httpx

from broker.demo.upstreams.serve import BackgroundServer
from tests.llm.conftest import LlmSetup
from tests.llm.mailbox import EMAIL, MCP, Mailbox, audit


def test_the_gateway_runs_the_tools_and_the_model_only_ever_sees_a_token(
    llm: LlmSetup, mail: Mailbox
) -> None:
    script = '[[call:mail__top_contact {}]] [[call:mail__send {"to": "{{email}}", "text": "Sunny in NYC"}]]'
    answer = llm.openai().chat.completions.create(
        model="fast",
        messages=[{"role": "user", "content": f"E-mail our top contact. {script}"}],
        tools=MCP,  # type: ignore[list-item]
    )
    assert answer.choices[0].message.content == "Done: mail__top_contact mail__send"
    assert mail.sent == [{"to": EMAIL, "text": "Sunny in NYC"}]  # the upstream got the real address
    offered = llm.mock.received[0].body["tools"]
    assert sorted(t["function"]["name"] for t in offered) == [
        "mail__notice",
        "mail__send",
        "mail__top_contact",
    ]
    seen_by_model = json.dumps([r.body for r in llm.mock.received])
    assert EMAIL not in seen_by_model and "<EMAIL_ADDRESS_" in seen_by_model
    rows = llm.ledger(3)
    assert len(rows) == 3 and len({row.request_id for row in rows}) == 1  # one request id, every step
    assert answer.usage is not None and answer.usage.total_tokens == sum(
        row.prompt_tokens + row.completion_tokens for row in rows
    )
    records = audit(llm.gateway.database_url, 2)
    assert [(r.tool, r.outcome) for r in records] == [("mail.top_contact", "ok"), ("mail.send", "ok")]
    assert {r.request_id for r in records} == {rows[0].request_id}


def test_a_tool_outside_the_policy_is_refused_even_when_the_model_asks(llm: LlmSetup, mail: Mailbox) -> None:
    response = httpx.post(
        f"{llm.base_url}/chat/completions",
        headers={"Authorization": f"Bearer {llm.key}"},
        json={
            "model": "fast",
            "tools": MCP,
            "messages": [{"role": "user", "content": "[[call:mail__purge {}]]"}],
        },
        timeout=30,
    )
    assert response.status_code == 200, response.text
    assert mail.sent == []
    tool_message = llm.mock.received[-1].body["messages"][-1]
    assert tool_message["role"] == "tool" and tool_message["content"].startswith("error:")
    [record] = audit(llm.gateway.database_url, 1)
    assert record.tool == "mail.purge" and record.outcome != "ok"


def test_the_final_answer_streams(llm: LlmSetup, mail: Mailbox) -> None:
    stream = llm.openai().chat.completions.create(
        model="fast",
        stream=True,
        stream_options={"include_usage": True},
        tools=MCP,  # type: ignore[list-item]
        messages=[{"role": "user", "content": "[[call:mail__top_contact {}]]"}],
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Done: mail__top_contact"
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens > 0


def test_the_step_limit_ends_the_loop_with_an_answer(make_llm: Any) -> None:
    llm = make_llm(llm_tool_loop_max_steps=2)
    box = Mailbox()
    with BackgroundServer(box.app()) as server:
        llm.gateway.admin.post("/admin/connectors", json={
            "kind": "http", "name": "mail", "base_url": server.url, "allow_private_network": True,
            "tools": [{"name": "top_contact", "description": "x", "path": "/contact",
                       "input_schema": {"type": "object", "properties": {}}}],
        }).raise_for_status()  # fmt: skip
        policy = {"name": "bot-models", "agents": ["bot"], "allow": ["mail.*"], "models": {"allow": ["*"]}}
        llm.gateway.admin.post("/admin/policies", json={"policies": [policy]}).raise_for_status()
        script = " ".join(["[[call:mail__top_contact {}]]"] * 5)
        answer = llm.openai().chat.completions.create(
            model="fast",
            tools=MCP,
            messages=[{"role": "user", "content": script}],  # type: ignore[list-item]
        )
    assert answer.choices[0].message.content
    assert len(llm.mock.received) == 2 and "tools" not in llm.mock.received[-1].body


def test_the_responses_api_answers_and_streams(llm: LlmSetup) -> None:
    client = llm.openai()
    response = client.responses.create(model="fast", instructions="Be brief.", input="[[words=3]] hello")
    assert response.output_text == "alpha bravo charlie"
    assert response.usage is not None and response.usage.output_tokens == 3
    events = list(client.responses.create(model="fast", input="[[words=4]] hi", stream=True))
    kinds = [event.type for event in events]
    assert kinds[0] == "response.created" and kinds[-1] == "response.completed"
    deltas = "".join(e.delta for e in events if e.type == "response.output_text.delta")  # type: ignore[union-attr]
    assert deltas == "alpha bravo charlie delta"
    assert llm.ledger(2)[-1].endpoint == "responses"


def test_the_responses_api_runs_the_agents_mcp_tools(llm: LlmSetup, mail: Mailbox) -> None:
    script = '[[call:mail__top_contact {}]] [[call:mail__send {"to": "{{email}}", "text": "hi"}]]'
    response = llm.openai().responses.create(
        model="fast",
        input=script,
        tools=[{"type": "mcp", "server_label": "broker"}],  # type: ignore[list-item]
    )
    calls = [item for item in response.output if item.type == "mcp_call"]
    assert [c.name for c in calls] == ["mail.top_contact", "mail.send"]  # type: ignore[union-attr]
    assert mail.sent == [{"to": EMAIL, "text": "hi"}]
    assert response.output_text == "Done: mail__top_contact mail__send"


def test_a_tool_result_with_instructions_for_the_model_is_flagged_in_the_audit(
    llm: LlmSetup, mail: Mailbox
) -> None:
    llm.openai().chat.completions.create(
        model="fast",
        tools=MCP,  # type: ignore[list-item]
        messages=[{"role": "user", "content": "[[call:mail__notice {}]] [[call:mail__top_contact {}]]"}],
    )
    notice, contact = audit(llm.gateway.database_url, 2)
    assert notice.tool == "mail.notice" and notice.flags is not None
    assert notice.flags["injection"]["score"] >= 0.6 and "override" in notice.flags["injection"]["signals"]
    assert contact.flags is None
    shown = llm.gateway.admin.get("/admin/audit", params={"limit": 5}).json()
    assert any(record.get("flags") for record in (shown if isinstance(shown, list) else shown["records"]))
