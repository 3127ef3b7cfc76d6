"""The official anthropic client, pointed at the gateway with an agent key."""

from __future__ import annotations

import anthropic
import httpx
import pytest

from tests.llm.conftest import PROVIDER_KEY, LlmSetup

HELLO = [{"role": "user", "content": "hello from claude land"}]


def test_messages_arrive_intact_and_are_metered(llm: LlmSetup) -> None:
    message = llm.anthropic().messages.create(model="claude-mock", max_tokens=6, messages=HELLO)
    assert (
        message.content[0].type == "text"
        and message.content[0].text == "alpha bravo charlie delta echo foxtrot"
    )
    assert (message.usage.input_tokens, message.usage.output_tokens) == (4, 6)
    [received] = llm.mock.received
    assert received.headers["x-api-key"] == PROVIDER_KEY and llm.key not in str(received.headers)
    assert received.headers["anthropic-version"]  # the client's version header is passed on
    [row] = llm.ledger(1)
    assert (row.endpoint, row.provider, row.prompt_tokens, row.completion_tokens, row.estimated) == (
        "messages", "anthropic-mock", 4, 6, False,
    )  # fmt: skip
    assert row.cost_usd == pytest.approx((4 * 3 + 6 * 15) / 1e6)


def test_streamed_messages(llm: LlmSetup) -> None:
    with llm.anthropic().messages.stream(model="claude-mock", max_tokens=3, messages=HELLO) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "alpha bravo charlie"
    assert final.usage.output_tokens == 3
    [row] = llm.ledger(1)
    assert (row.stream, row.prompt_tokens, row.completion_tokens, row.estimated) == (True, 4, 3, False)
    assert row.ttft_ms is not None


def test_a_cut_off_anthropic_stream_is_charged_for_the_text_delivered(llm: LlmSetup) -> None:
    body = {"model": "claude-mock", "max_tokens": 40, "stream": True,
            "messages": [{"role": "user", "content": "go [[delay=50]]"}]}  # fmt: skip
    words = 0
    with httpx.Client(timeout=30) as client:
        request = client.build_request(
            "POST", f"{llm.gateway.url}/v1/messages", json=body, headers={"x-api-key": llm.key}
        )
        response = client.send(request, stream=True)
        for line in response.iter_lines():
            words += line.count('"text_delta"')
            if words == 4:
                break
        response.close()
    [row] = llm.ledger(1)
    assert (row.status, row.prompt_tokens, row.estimated) == ("client_closed", 2, True)
    assert 4 <= row.completion_tokens <= 7


def test_errors_come_back_in_anthropic_shape(llm: LlmSetup) -> None:
    with pytest.raises(anthropic.AuthenticationError) as refused:
        llm.anthropic("tbk_" + "y" * 40).messages.create(model="claude-mock", max_tokens=5, messages=HELLO)
    body = refused.value.body
    assert isinstance(body, dict) and body["type"] == "error"
    assert body["error"]["type"] == "authentication_error" and body["error"]["code"] == "invalid_token"
    with pytest.raises(anthropic.BadRequestError) as wrong_api:
        llm.anthropic().messages.create(model="fast", max_tokens=5, messages=HELLO)
    assert "no target of this model speaks the messages API" in str(wrong_api.value)
