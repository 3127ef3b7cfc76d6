"""An MCP sampling request as a chat completion, and the answer back as a CreateMessageResult."""

from __future__ import annotations

from typing import Any

import pytest

from broker.llm.errors import BadRequest
from broker.llm.sampling import chat_request, sampling_result


def test_messages_system_prompt_and_limits_translate() -> None:
    params: dict[str, Any] = {
        "systemPrompt": "Be brief.",
        "messages": [
            {"role": "user", "content": {"type": "text", "text": "Hi"}},
            {"role": "assistant", "content": [{"type": "text", "text": "Hello"}]},
            {"role": "user", "content": [
                {"type": "text", "text": "Look"}, {"type": "image", "data": "QUJD", "mimeType": "image/jpeg"},
            ]},
        ],
        "maxTokens": 50,
        "temperature": 0.2,
        "stopSequences": ["END"],
    }  # fmt: skip
    body, max_tokens = chat_request(params, 20)
    assert max_tokens == 20 and body["max_tokens"] == 20
    assert body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello"},
        {"role": "user", "content": [
            {"type": "text", "text": "Look"},
            {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,QUJD"}},
        ]},
    ]  # fmt: skip
    assert body["temperature"] == 0.2 and body["stop"] == ["END"]
    assert chat_request({"messages": params["messages"][:1], "maxTokens": 5}, 20)[1] == 5


@pytest.mark.parametrize(
    ("params", "problem"),
    [
        ({"messages": []}, "at least one message"),
        (
            {"messages": [{"role": "system", "content": {"type": "text", "text": "x"}}]},
            "messages[0]: the role",
        ),
        ({"messages": [{"role": "user", "content": {"type": "audio", "data": ""}}]}, "not audio"),
        (
            {"messages": [{"role": "user", "content": {"type": "text", "text": "x"}}], "tools": [{}]},
            "without tools",
        ),
    ],
)
def test_what_the_gateway_does_not_answer_is_refused_by_name(params: dict[str, Any], problem: str) -> None:
    with pytest.raises(BadRequest) as raised:
        chat_request(params, 10)
    assert problem in raised.value.message


def test_the_answer_becomes_a_create_message_result() -> None:
    answer = {"choices": [{"message": {"role": "assistant", "content": "Done."}, "finish_reason": "length"}]}
    assert sampling_result(answer, "fast") == {
        "role": "assistant",
        "content": {"type": "text", "text": "Done."},
        "model": "fast",
        "stopReason": "maxTokens",
    }
