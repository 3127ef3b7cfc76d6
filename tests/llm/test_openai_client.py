"""The official openai client, pointed at the gateway's /v1 with an agent key."""

from __future__ import annotations

import asyncio
import logging

import openai
import pytest

from broker.demo.upstreams.llm_replies import WORDS
from tests.llm.conftest import PROVIDER_KEY, LlmSetup, raw_post

HELLO = [{"role": "user", "content": "hello"}]


def test_chat_completion_arrives_intact_and_is_metered_exactly(llm: LlmSetup) -> None:
    messages = [{"role": "user", "content": "hello there gateway"}]
    answer = llm.openai().chat.completions.create(model="fast", messages=messages)
    assert answer.choices[0].message.content == " ".join([*WORDS, "alpha", "bravo"])
    usage = answer.usage
    assert usage is not None and (usage.prompt_tokens, usage.completion_tokens) == (3, 12)

    [row] = llm.ledger(1)
    assert (row.agent, row.team, row.endpoint, row.model, row.provider, row.upstream_model) == (
        "bot", "support", "chat", "fast", "mock", "mock-small",
    )  # fmt: skip
    assert (row.prompt_tokens, row.completion_tokens, row.cached_tokens, row.estimated) == (3, 12, 0, False)
    assert row.status == "ok" and row.http_status == 200 and row.stream is False and row.attempts == 1
    assert row.cost_usd == pytest.approx((3 * 0.5 + 12 * 1.5) / 1e6)
    assert row.latency_ms > 0 and row.ttft_ms is None


def test_provider_key_is_injected_and_the_agent_key_never_goes_upstream(
    llm: LlmSetup, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    llm.openai().chat.completions.create(model="mock-small", messages=HELLO)
    [received] = llm.mock.received
    assert received.headers["authorization"] == f"Bearer {PROVIDER_KEY}"
    assert llm.key not in str(received.headers) and llm.key not in str(received.body)
    assert received.body["model"] == "mock-small"
    # The provider key shows nowhere else: not in answers, logs, the ledger or the admin API.
    response = raw_post(llm, "/v1/chat/completions", {"model": "fast", "messages": HELLO})
    assert PROVIDER_KEY not in response.text and PROVIDER_KEY not in str(response.headers)
    assert PROVIDER_KEY not in caplog.text
    assert all(PROVIDER_KEY not in str(vars(row)) for row in llm.ledger(2))
    listing = llm.gateway.admin.get("/admin/llm/providers")
    assert listing.status_code == 200 and PROVIDER_KEY not in listing.text and "MOCK_KEY" in listing.text


def test_streamed_chat_arrives_chunk_by_chunk_with_usage_hidden_unless_asked(llm: LlmSetup) -> None:
    client = llm.openai()
    messages = [{"role": "user", "content": "stream please [[words=5]]"}]
    chunks = list(client.chat.completions.create(model="fast", messages=messages, stream=True))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "alpha bravo charlie delta echo"
    assert all(c.choices for c in chunks), "the usage chunk the gateway asked for is not passed on"

    with_usage = list(
        client.chat.completions.create(
            model="fast", messages=messages, stream=True, stream_options={"include_usage": True}
        )
    )
    assert with_usage[-1].usage is not None and with_usage[-1].usage.completion_tokens == 5

    first, second = llm.ledger(2)
    for row in (first, second):
        assert (row.prompt_tokens, row.completion_tokens, row.estimated, row.stream) == (3, 5, False, True)
        assert row.ttft_ms is not None and 0 < row.ttft_ms <= row.latency_ms
    assert llm.mock.received[0].body["stream_options"] == {"include_usage": True}


def test_models_lists_only_what_the_policy_grants(llm: LlmSetup) -> None:
    every = ["fast", "claude-mock", "mock-small", "mock-large", "mock-embed"]
    assert [m.id for m in llm.openai().models.list()] == every
    key = llm.gateway.create_agent("narrow", team="other")
    llm.grant("narrow-models", ["fast", "mock/mock-embed"], agents=["narrow"])
    client = llm.openai(key)
    assert [m.id for m in client.models.list()] == ["fast", "mock-embed"]
    assert client.models.retrieve("fast").owned_by == "mock"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("mock-large")
    with pytest.raises(openai.PermissionDeniedError) as denied:
        client.chat.completions.create(model="mock-large", messages=[{"role": "user", "content": "x"}])
    assert "no policy grants model 'mock-large' to agent 'narrow'" in denied.value.message
    [row] = llm.ledger(1)
    assert (row.agent, row.status, row.http_status) == ("narrow", "model_not_allowed", 403)
    assert row.prompt_tokens == row.completion_tokens == 0


def test_embeddings(llm: LlmSetup) -> None:
    answer = llm.openai().embeddings.create(model="mock-embed", input=["one two", "three"])
    assert len(answer.data) == 2 and len(answer.data[0].embedding) == 64
    assert answer.usage.prompt_tokens == 3
    [row] = llm.ledger(1)
    assert (row.endpoint, row.prompt_tokens, row.completion_tokens) == ("embeddings", 3, 0)
    assert not row.estimated


def test_bad_keys_unknown_models_and_bad_bodies_get_openai_shaped_errors(llm: LlmSetup) -> None:
    with pytest.raises(openai.AuthenticationError):
        llm.openai("tbk_" + "x" * 40).models.list()
    with pytest.raises(openai.AuthenticationError):
        llm.openai("sk-not-ours").chat.completions.create(model="fast", messages=[])
    with pytest.raises(openai.NotFoundError) as missing:
        llm.openai().chat.completions.create(model="gpt-99", messages=[{"role": "user", "content": "x"}])
    assert missing.value.code == "model_not_found"
    response = raw_post(llm, "/v1/chat/completions", {"messages": []})
    assert response.status_code == 400 and response.json()["error"]["type"] == "invalid_request_error"
    assert response.headers["x-request-id"]
    response = raw_post(llm, "/v1/unknown", {})
    assert response.status_code == 404 and "error" in response.json()


def test_upstream_client_errors_pass_through_and_are_recorded(llm: LlmSetup) -> None:
    llm.mock.fail(422)
    with pytest.raises(openai.UnprocessableEntityError):
        llm.openai().chat.completions.create(model="fast", messages=[{"role": "user", "content": "x"}])
    [row] = llm.ledger(1)
    assert (row.status, row.http_status, row.attempts) == ("upstream_rejected", 422, 1)


def test_estimates_when_the_provider_reports_no_usage(llm: LlmSetup) -> None:
    llm.mock.usage = False
    messages = [{"role": "user", "content": "count me [[words=4]]"}]
    llm.openai().chat.completions.create(model="fast", messages=messages)
    chunks = llm.openai().chat.completions.create(model="fast", messages=messages, stream=True)
    assert sum(1 for c in chunks if c.choices and c.choices[0].delta.content) == 4
    for row in llm.ledger(2):
        assert row.estimated is True
        assert row.completion_tokens == 4  # one short word, one token
        assert row.prompt_tokens > 0


async def test_async_client_concurrency(llm: LlmSetup) -> None:
    client = llm.async_openai()
    calls = [client.chat.completions.create(model="fast", messages=HELLO) for _ in range(20)]
    answers = await asyncio.gather(*calls)
    assert all(a.usage and a.usage.completion_tokens == 12 for a in answers)
    await client.close()
    rows = llm.ledger(20)
    assert len(rows) == 20 and sum(r.completion_tokens for r in rows) == 240
