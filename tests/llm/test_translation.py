"""Chat completions served by an Anthropic provider: translated both ways, metered exactly."""

from __future__ import annotations

import json

from broker.llm.translate import StreamTranslator, chat_to_messages, message_to_chat
from tests.llm.conftest import PROVIDER_KEY, LlmSetup

SYSTEM_AND_USER = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "hello claude [[words=5]]"},
]


def test_the_openai_client_reaches_an_anthropic_provider(llm: LlmSetup) -> None:
    answer = llm.openai().chat.completions.create(
        model="claude-mock", messages=SYSTEM_AND_USER, max_tokens=50
    )
    assert answer.choices[0].message.content == "alpha bravo charlie delta echo"
    assert answer.choices[0].finish_reason == "stop"
    assert answer.usage is not None and (answer.usage.prompt_tokens, answer.usage.completion_tokens) == (5, 5)
    [received] = llm.mock.received
    assert received.path == "/v1/messages" and received.headers["x-api-key"] == PROVIDER_KEY
    assert received.body["system"] == "Be brief." and received.body["max_tokens"] == 50
    assert received.body["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "hello claude [[words=5]]"}]}
    ]
    [row] = llm.ledger(1)
    assert (row.provider, row.endpoint, row.prompt_tokens, row.completion_tokens, row.estimated) == (
        "anthropic-mock", "chat", 5, 5, False,
    )  # fmt: skip


def test_streams_are_translated_event_by_event(llm: LlmSetup) -> None:
    chunks = list(
        llm.openai().chat.completions.create(
            model="claude-mock", messages=SYSTEM_AND_USER, stream=True, stream_options={"include_usage": True}
        )
    )
    assert (
        "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        == "alpha bravo charlie delta echo"
    )
    assert chunks[0].choices[0].delta.role == "assistant"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 5
    [row] = llm.ledger(1)
    assert (row.stream, row.prompt_tokens, row.completion_tokens, row.estimated) == (True, 5, 5, False)


def test_a_route_falls_back_across_provider_kinds(llm: LlmSetup) -> None:
    llm.apply({"models": [{"name": "any", "targets": ["anthropic-mock/claude-mock", "mock/mock-small"]}]})
    llm.mock.fail(529, times=2)  # Anthropic's "overloaded"
    answer = llm.openai().chat.completions.create(model="any", messages=SYSTEM_AND_USER)
    assert answer.choices[0].message.content == "alpha bravo charlie delta echo"
    assert llm.ledger(1)[0].provider == "mock"


def test_the_request_translation() -> None:
    payload = {
        "model": "x", "temperature": 0.2, "stop": "END", "user": "u1", "n": 2,
        "messages": [
            {"role": "developer", "content": [{"type": "text", "text": "Rules."}]},
            {"role": "user", "content": [
                {"type": "text", "text": "What is this?"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
            ]},
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "look", "arguments": '{"q": 1}'}}]},
            {"role": "tool", "tool_call_id": "c1", "content": "a cat"},
            {"role": "user", "content": "thanks"},
        ],
        "tools": [{"type": "function",
                   "function": {"name": "look", "description": "Look.", "parameters": {"type": "object"}}}],
        "tool_choice": "required",
    }  # fmt: skip
    out = chat_to_messages(payload, "claude-x", 1024)
    assert out["model"] == "claude-x" and out["max_tokens"] == 1024 and out["system"] == "Rules."
    assert (out["temperature"], out["stop_sequences"], out["metadata"]) == (0.2, ["END"], {"user_id": "u1"})
    assert "n" not in out
    assert out["tools"] == [{"name": "look", "input_schema": {"type": "object"}, "description": "Look."}]
    assert out["tool_choice"] == {"type": "any"}
    user, assistant, tool_and_thanks = out["messages"]
    assert user["content"][1] == {
        "type": "image",
        "source": {"type": "base64", "media_type": "image/png", "data": "AAAA"},
    }
    assert assistant["content"] == [{"type": "tool_use", "id": "c1", "name": "look", "input": {"q": 1}}]
    assert tool_and_thanks == {"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "c1", "content": "a cat"}, {"type": "text", "text": "thanks"},
    ]}  # fmt: skip


def test_the_answer_translation_with_tool_use() -> None:
    message = {
        "id": "msg_1", "model": "claude-x", "stop_reason": "tool_use",
        "content": [{"type": "text", "text": "Let me look."},
                    {"type": "tool_use", "id": "t1", "name": "look", "input": {"q": 2}}],
        "usage": {"input_tokens": 10, "cache_read_input_tokens": 90, "output_tokens": 7},
    }  # fmt: skip
    answer = message_to_chat(message)
    choice = answer["choices"][0]
    assert choice["finish_reason"] == "tool_calls" and choice["message"]["content"] == "Let me look."
    assert choice["message"]["tool_calls"] == [
        {"id": "t1", "type": "function", "function": {"name": "look", "arguments": '{"q": 2}'}}
    ]
    assert answer["usage"] == {
        "prompt_tokens": 100, "completion_tokens": 7, "total_tokens": 107,
        "prompt_tokens_details": {"cached_tokens": 90},
    }  # fmt: skip


def test_the_stream_translation_with_tool_use() -> None:
    def event(name: str, body: dict[str, object]) -> bytes:
        return f"event: {name}\ndata: {json.dumps(body)}\n\n".encode()

    translator = StreamTranslator(include_usage=True)
    events = [
        event("message_start", {"type": "message_start",
                                "message": {"id": "m", "model": "c", "usage": {"input_tokens": 3}}}),
        event("content_block_start", {"type": "content_block_start", "index": 0,
                                      "content_block": {"type": "tool_use", "id": "t1", "name": "look"}}),
        event("content_block_delta", {"type": "content_block_delta", "index": 0,
                                      "delta": {"type": "input_json_delta", "partial_json": '{"q":'}}),
        event("ping", {"type": "ping"}),
        event("message_delta", {"type": "message_delta", "delta": {"stop_reason": "tool_use"},
                                "usage": {"output_tokens": 9}}),
        event("message_stop", {"type": "message_stop"}),
    ]  # fmt: skip
    out = b"".join(translator.event(e) for e in events).decode()
    chunks = [json.loads(line[6:]) for line in out.splitlines() if line.startswith("data: {")]
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert chunks[1]["choices"][0]["delta"]["tool_calls"][0]["function"] == {"name": "look", "arguments": ""}
    assert chunks[2]["choices"][0]["delta"]["tool_calls"][0] == {
        "index": 0,
        "function": {"arguments": '{"q":'},
    }
    assert chunks[3]["choices"][0]["finish_reason"] == "tool_calls"
    assert chunks[4]["usage"]["total_tokens"] == 12 and chunks[4]["choices"] == []
    assert out.endswith("data: [DONE]\n\n")
