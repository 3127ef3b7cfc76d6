"""Routes with fallbacks: retried and redirected on 5xx, timeouts and connection errors,
never after a stream has started; refused credentials move on at once and never leak."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import openai
import pytest

from broker.demo.upstreams.llm import MockLLM, create_llm_app
from broker.demo.upstreams.serve import BackgroundServer
from tests.conftest import free_port
from tests.llm.conftest import BACKUP_KEY, PROVIDER_KEY, LlmSetup

HELLO = [{"role": "user", "content": "hello"}]


@pytest.fixture
def backup(llm: LlmSetup) -> Iterator[MockLLM]:
    """A second provider, `backup`, and the route `sturdy`: mock first, then backup."""
    mock = MockLLM(api_key=BACKUP_KEY)
    with BackgroundServer(create_llm_app(mock)) as server:
        provider = {"name": "backup", "kind": "openai", "base_url": f"{server.url}/v1",
                    "api_key_secret": "BACKUP_KEY", "models": ["mock-small"]}  # fmt: skip
        route = {"name": "sturdy", "targets": ["mock/mock-small", "backup/mock-small"]}
        llm.apply({"providers": [provider], "models": [route]})
        yield mock


def test_a_failing_primary_is_retried_then_falls_back(llm: LlmSetup, backup: MockLLM) -> None:
    llm.mock.fail(503, times=5)
    answer = llm.openai().chat.completions.create(model="sturdy", messages=HELLO)
    assert answer.choices[0].message.content
    assert len(llm.mock.received) == 2, "the primary is tried twice (max_retries 1)"
    assert len(backup.received) == 1 and backup.received[0].headers["authorization"] == f"Bearer {BACKUP_KEY}"
    [row] = llm.ledger(1)
    assert (row.status, row.provider, row.attempts, row.completion_tokens) == ("ok", "backup", 3, 12)


def test_a_retry_on_the_same_provider_can_succeed(llm: LlmSetup, backup: MockLLM) -> None:
    llm.mock.fail(500, times=1)
    llm.openai().chat.completions.create(model="sturdy", messages=HELLO)
    assert (len(llm.mock.received), len(backup.received)) == (2, 0)
    assert llm.ledger(1)[0].attempts == 2


def test_streams_fall_back_before_anything_was_sent(llm: LlmSetup, backup: MockLLM) -> None:
    llm.mock.fail(502, times=2)
    stream = llm.openai().chat.completions.create(model="sturdy", messages=HELLO, stream=True)
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices).startswith("alpha bravo")
    assert llm.ledger(1)[0].provider == "backup"


def test_refused_credentials_fall_back_at_once_without_leaking(llm: LlmSetup, backup: MockLLM) -> None:
    llm.mock.api_key = "sk-some-other-key"  # the gateway's key for `mock` is now wrong
    llm.openai().chat.completions.create(model="sturdy", messages=HELLO)
    assert (len(llm.mock.received), len(backup.received)) == (1, 1)
    backup.api_key = "sk-also-wrong"
    with pytest.raises(openai.APIStatusError) as failed:
        llm.openai().chat.completions.create(model="sturdy", messages=HELLO)
    assert failed.value.status_code == 502
    assert "refused the gateway's credentials" in failed.value.message
    assert PROVIDER_KEY not in str(failed.value.body) and BACKUP_KEY not in str(failed.value.body)


def test_unreachable_and_slow_providers_fall_back(llm: LlmSetup, backup: MockLLM) -> None:
    dead = {"name": "dead", "kind": "openai", "base_url": f"http://127.0.0.1:{free_port()}/v1",
            "models": ["mock-small"], "connect_timeout_seconds": 1}  # fmt: skip
    slow = {"name": "slow", "kind": "openai", "base_url": f"{llm.mock_url}/v1", "api_key_secret": "MOCK_KEY",
            "models": ["mock-small"], "timeout_seconds": 0.2, "max_retries": 0}  # fmt: skip
    routes = [
        {"name": "via-dead", "targets": ["dead/mock-small", "backup/mock-small"]},
        {"name": "via-slow", "targets": ["slow/mock-small", "backup/mock-small"]},
    ]
    llm.apply({"providers": [dead, slow], "models": routes})
    llm.openai().chat.completions.create(model="via-dead", messages=HELLO)
    llm.mock.latency_seconds = 1.0
    llm.openai().chat.completions.create(model="via-slow", messages=HELLO)
    first, second = llm.ledger(2)
    assert (first.provider, first.attempts, second.provider, second.attempts) == ("backup", 3, "backup", 2)


def test_when_every_target_fails_the_caller_gets_a_502_and_the_ledger_says_why(
    llm: LlmSetup, backup: MockLLM
) -> None:
    llm.mock.fail(503, times=10)
    backup.fail(503, times=10)
    response = httpx.post(
        f"{llm.base_url}/chat/completions",
        json={"model": "sturdy", "messages": HELLO},
        headers={"Authorization": f"Bearer {llm.key}"},
    )
    assert response.status_code == 502
    assert response.json()["error"]["message"] == "provider 'backup' answered HTTP 503 (after 4 attempts)"
    [row] = llm.ledger(1)
    assert (row.status, row.http_status, row.attempts, row.prompt_tokens) == ("upstream_error", 502, 4, 0)
