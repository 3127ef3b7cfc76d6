"""The tool loop on Anthropic's face: /v1/messages with `{"type": "mcp"}` among its tools, through
the real `anthropic` client, the gateway and the mock provider (on its OpenAI face and on its
Anthropic face, which both follow `[[call:...]]` plans)."""

from __future__ import annotations

import json
from typing import Any

import anthropic
import pytest

from tests.llm.conftest import LlmSetup, raw_post
from tests.llm.mailbox import EMAIL, MCP, Mailbox, audit

PLAN = '[[call:mail__top_contact {}]] [[call:mail__send {"to": "{{email}}", "text": "Sunny in NYC"}]]'


@pytest.mark.parametrize("model", ["fast", "claude-mock"])
def test_messages_run_the_agents_tools_and_the_model_only_sees_a_token(
    llm: LlmSetup, mail: Mailbox, model: str
) -> None:
    message = llm.anthropic().messages.create(
        model=model,
        max_tokens=200,
        system="You write short e-mails.",
        messages=[{"role": "user", "content": f"E-mail our top contact. {PLAN}"}],
        tools=MCP,  # type: ignore[arg-type]
    )
    assert message.stop_reason == "end_turn"
    assert [block.type for block in message.content] == ["text"]
    assert message.content[0].text == "Done: mail__top_contact mail__send"  # type: ignore[union-attr]
    assert mail.sent == [{"to": EMAIL, "text": "Sunny in NYC"}]  # the upstream got the real address
    seen_by_model = json.dumps([r.body for r in llm.mock.received])
    assert EMAIL not in seen_by_model and "<EMAIL_ADDRESS_" in seen_by_model
    assert len(llm.mock.received) == 3
    wanted_path = "/v1/messages" if model == "claude-mock" else "/v1/chat/completions"
    assert {r.path for r in llm.mock.received} == {wanted_path}
    rows = llm.ledger(3)
    assert len(rows) == 3 and len({row.request_id for row in rows}) == 1
    assert message.usage.input_tokens + message.usage.output_tokens == sum(
        row.prompt_tokens + row.completion_tokens for row in rows
    )
    records = audit(llm.gateway.database_url, 2)
    assert [(r.tool, r.outcome) for r in records] == [("mail.top_contact", "ok"), ("mail.send", "ok")]
    assert {r.request_id for r in records} == {rows[0].request_id}


def test_the_final_message_streams(llm: LlmSetup, mail: Mailbox) -> None:
    with llm.anthropic().messages.stream(
        model="fast",
        max_tokens=200,
        messages=[{"role": "user", "content": "[[call:mail__top_contact {}]]"}],
        tools=MCP,  # type: ignore[arg-type]
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "Done: mail__top_contact"
    assert final.stop_reason == "end_turn" and final.usage.output_tokens > 0


def test_a_tool_outside_the_policy_is_refused_on_the_messages_face(llm: LlmSetup, mail: Mailbox) -> None:
    message = llm.anthropic().messages.create(
        model="fast",
        max_tokens=100,
        messages=[{"role": "user", "content": "[[call:mail__purge {}]]"}],
        tools=MCP,  # type: ignore[arg-type]
    )
    assert message.content[0].type == "text"
    assert mail.sent == []
    tool_message = llm.mock.received[-1].body["messages"][-1]
    assert tool_message["role"] == "tool" and tool_message["content"].startswith("error:")
    [record] = audit(llm.gateway.database_url, 1)
    assert record.tool == "mail.purge" and record.outcome != "ok"


def test_a_call_to_the_clients_own_tool_comes_back_as_tool_use(llm: LlmSetup, mail: Mailbox) -> None:
    own: Any = {"name": "lookup", "description": "The client's own tool.",
                "input_schema": {"type": "object", "properties": {"q": {"type": "string"}}}}  # fmt: skip
    message = llm.anthropic().messages.create(
        model="fast",
        max_tokens=100,
        messages=[{"role": "user", "content": '[[call:lookup {"q": "x"}]] [[call:mail__top_contact {}]]'}],
        tools=[own, *MCP],
    )
    assert message.stop_reason == "tool_use"
    [use] = [block for block in message.content if block.type == "tool_use"]
    assert use.name == "lookup" and use.input == {"q": "x"}
    # the client runs it and sends the result back: the loop goes on to the answer
    follow = llm.anthropic().messages.create(
        model="fast",
        max_tokens=100,
        messages=[
            {"role": "user", "content": '[[call:lookup {"q": "x"}]] [[call:mail__top_contact {}]]'},
            {"role": "assistant", "content": message.content},  # type: ignore[typeddict-item]
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "42"}]},
        ],
        tools=[own, *MCP],
    )
    assert follow.stop_reason == "end_turn"
    assert follow.content[0].text == "Done: lookup mail__top_contact"  # type: ignore[union-attr]


def test_an_unsupported_tool_type_is_a_clear_400(llm: LlmSetup) -> None:
    response = raw_post(
        llm,
        "/v1/messages",
        {"model": "fast", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}],
         "tools": [*MCP, {"type": "web_search_20250305", "name": "web_search"}]},
    )  # fmt: skip
    assert response.status_code == 400
    assert "web_search_20250305" in response.json()["error"]["message"]
    with pytest.raises(anthropic.BadRequestError):
        llm.anthropic().messages.create(
            model="fast",
            max_tokens=10,
            messages=[{"role": "nobody", "content": "hi"}],  # type: ignore[misc,list-item]
            tools=MCP,  # type: ignore[arg-type]
        )
