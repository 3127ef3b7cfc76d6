"""Requests and tokens per minute, in process and shared through Redis."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator

import openai
import pytest

from tests.conftest import fresh_redis, redis_test_url, start_gateway
from tests.llm.conftest import LlmSetup, raw_post

BODY = {"model": "fast", "messages": [{"role": "user", "content": "x"}], "max_tokens": 5}


@pytest.fixture
def redis_url() -> Iterator[str]:
    """This worker's Redis database, emptied first; fails loudly when Redis is not there."""
    yield from fresh_redis(redis_test_url())


def test_requests_per_minute(llm: LlmSetup) -> None:
    llm.apply({"rate_limits": [{"name": "bot-rpm", "agent": "bot", "rpm": 3}]})
    assert [raw_post(llm, "/v1/chat/completions", BODY).status_code for _ in range(3)] == [200, 200, 200]
    refused = raw_post(llm, "/v1/chat/completions", BODY)
    assert refused.status_code == 429
    error = refused.json()["error"]
    assert error["code"] == "rate_limited" and error["rate_limit"]["limit"] == "rpm"
    assert error["rate_limit"]["name"] == "bot-rpm" and error["rate_limit"]["value"] == 3
    assert 10 <= int(refused.headers["retry-after"]) <= 21  # one request comes back every 20 s
    assert refused.headers["x-should-retry"] == "true"
    assert llm.ledger(4)[-1].status == "rate_limited"


def test_tokens_per_minute_charge_the_real_count_after_the_call(llm: LlmSetup) -> None:
    llm.apply({"rate_limits": [{"name": "team-tpm", "team": "support", "tpm": 60}]})
    codes = [raw_post(llm, "/v1/chat/completions", BODY).status_code for _ in range(12)]
    assert codes[:3] == [200, 200, 200] and 429 in codes  # each call uses 6 of 60 tokens, reserves ~30
    ok = [r for r in llm.ledger() if r.status == "ok"]
    assert sum(r.prompt_tokens + r.completion_tokens for r in ok) <= 60 + 30


def test_limits_are_shared_by_instances_through_redis(
    make_llm: Callable[..., LlmSetup], redis_url: str
) -> None:
    first = make_llm(redis_url=redis_url)
    first.apply({"rate_limits": [{"name": "bot-rpm", "agent": "bot", "rpm": 4}]})
    server, gateway = start_gateway(
        first.gateway.database_url,
        redis_url=redis_url,
        llm_provider_keys=first.gateway.settings.llm_provider_keys,
    )
    try:
        second = LlmSetup(gateway, first.mock, first.mock_url, first.key)
        codes = [raw_post(setup, "/v1/chat/completions", BODY).status_code for setup in (first, second) * 3]
        assert codes == [200, 200, 200, 200, 429, 429]
    finally:
        gateway.admin.close()
        server.stop()


async def test_budgets_are_shared_by_instances_through_redis(
    make_llm: Callable[..., LlmSetup], redis_url: str
) -> None:
    first = make_llm(redis_url=redis_url)
    first.apply({"budgets": [{"name": "bot-day", "agent": "bot", "period": "day", "tokens": 50}]})
    server, gateway = start_gateway(
        first.gateway.database_url,
        redis_url=redis_url,
        llm_provider_keys=first.gateway.settings.llm_provider_keys,
    )
    second = LlmSetup(gateway, first.mock, first.mock_url, first.key)
    clients = [first.async_openai(), second.async_openai()]
    try:
        forty = [{"role": "user", "content": "x [[words=40]]"}]
        await clients[0].chat.completions.create(model="fast", messages=forty)  # 42 of 50 tokens

        async def call(i: int) -> bool:
            try:
                await clients[i % 2].chat.completions.create(
                    model="fast", messages=BODY["messages"], max_tokens=10
                )
                return True
            except openai.RateLimitError:
                return False

        admitted = await asyncio.gather(*(call(i) for i in range(20)))
        assert sum(admitted) == 1  # the first admitted reserves past the limit: the rest are refused
        status = gateway.admin.get("/admin/llm/budget-status").json()
        assert status[0]["spent"] == 53 and status[0]["reserved"] == 0
    finally:
        for client in clients:
            await client.close()
        gateway.admin.close()
        server.stop()


def test_without_redis_the_gateway_fails_closed(make_llm: Callable[..., LlmSetup]) -> None:
    setup = make_llm(redis_url="redis://127.0.0.1:1/0")  # nothing listens there
    setup.apply({"rate_limits": [{"name": "bot-rpm", "agent": "bot", "rpm": 4}]})
    refused = raw_post(setup, "/v1/chat/completions", BODY)
    assert refused.status_code == 503 and refused.json()["error"]["code"] == "metering_unavailable"
