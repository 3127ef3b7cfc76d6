"""A hanging provider first in a fallback route: after its breaker opens, calls go straight to
the fallback without waiting for its timeout; alone, it answers 503 at once naming it."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from broker.demo.upstreams.llm import MockLLM, create_llm_app
from broker.demo.upstreams.serve import BackgroundServer
from tests.llm.conftest import BACKUP_KEY, LlmSetup, raw_post

BODY = {"messages": [{"role": "user", "content": "hello"}], "max_tokens": 5}


def test_an_open_breaker_skips_a_hanging_provider(make_llm: Callable[..., LlmSetup]) -> None:
    llm = make_llm(breaker_failures=2, breaker_open_seconds=60)
    backup = MockLLM(api_key=BACKUP_KEY)
    with BackgroundServer(create_llm_app(backup)) as server:
        llm.mock.latency_seconds = 1.5  # hangs well past its 0.3 s timeout
        llm.apply(
            {
                "providers": [
                    {"name": "mock", "kind": "openai", "base_url": f"{llm.mock_url}/v1",
                     "api_key_secret": "MOCK_KEY", "models": ["mock-small"], "timeout_seconds": 0.3,
                     "max_retries": 0},
                    {"name": "backup", "kind": "openai", "base_url": f"{server.url}/v1",
                     "api_key_secret": "BACKUP_KEY", "models": ["mock-small"]},
                ],
                "models": [{"name": "sturdy", "targets": ["mock/mock-small", "backup/mock-small"]},
                           {"name": "alone", "targets": ["mock/mock-small"]}],
            }
        )  # fmt: skip
        for _ in range(2):  # each waits for the timeout, then falls back
            assert raw_post(llm, "/v1/chat/completions", {**BODY, "model": "sturdy"}).status_code == 200
        assert len(llm.mock.received) == 2
        for _ in range(3):  # open: straight to the fallback
            assert raw_post(llm, "/v1/chat/completions", {**BODY, "model": "sturdy"}).status_code == 200
        assert len(llm.mock.received) == 2 and len(backup.received) == 5

        alone = raw_post(llm, "/v1/chat/completions", {**BODY, "model": "alone"})
        assert alone.status_code == 503
        error = alone.json()["error"]
        assert error["code"] == "upstream_unavailable" and "provider 'mock'" in error["message"]
        assert len(llm.mock.received) == 2
        text = httpx.get(f"{llm.gateway.url}/metrics").text
        assert "broker_circuit_breaker_state{upstream=\"provider 'mock'\"} 1.0" in text
        assert "broker_circuit_breaker_opened_total{upstream=\"provider 'mock'\"} 1.0" in text
