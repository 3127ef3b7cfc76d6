"""Budgets: reserve the worst case before the call, settle after; over budget is a clear 429."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime

import openai
import pytest

from tests.conftest import start_gateway
from tests.llm.conftest import LlmSetup, raw_post

ONE = [{"role": "user", "content": "x"}]  # one prompt token; the mock answers max_tokens words


def spent_tokens(llm: LlmSetup, count: int) -> int:
    return sum(r.prompt_tokens + r.completion_tokens for r in llm.ledger(count) if r.status == "ok")


async def test_twenty_concurrent_calls_near_the_end_overspend_by_at_most_one_reservation(
    llm: LlmSetup,
) -> None:
    llm.apply({"budgets": [{"name": "bot-day", "agent": "bot", "period": "day", "tokens": 100}]})
    client = llm.async_openai()
    for _ in range(8):  # 8 x (1 + 10) = 88 of 100 tokens
        await client.chat.completions.create(model="fast", messages=ONE, max_tokens=10)
    assert spent_tokens(llm, 8) == 88

    async def call() -> str:
        try:
            await client.chat.completions.create(model="fast", messages=ONE, max_tokens=10)
            return "ok"
        except openai.RateLimitError as exc:
            assert exc.code == "budget_exceeded"
            return "refused"

    outcomes = await asyncio.gather(*(call() for _ in range(20)))
    await client.close()
    assert outcomes.count("ok") >= 1 and outcomes.count("refused") >= 18
    reservation = (
        10 + len(b'{"messages":[{"role":"user","content":"x"}],"model":"fast","max_tokens":10}') // 3 + 1
    )
    assert spent_tokens(llm, 28) <= 100 + reservation
    refused = [r for r in llm.ledger(29) if r.status == "budget_exceeded"]
    assert len(refused) == outcomes.count("refused") and all(r.http_status == 429 for r in refused)


def test_the_429_says_which_budget_its_limit_and_when_it_resets(llm: LlmSetup) -> None:
    llm.apply({"budgets": [{"name": "support-month", "team": "support", "period": "month", "usd": 0.00002}]})
    body = {"model": "fast", "messages": ONE, "max_tokens": 10}
    assert raw_post(llm, "/v1/chat/completions", body).status_code == 200  # 15.5 micro-USD
    assert raw_post(llm, "/v1/chat/completions", body).status_code == 200  # 31 > 20: the last one admitted
    refused = raw_post(llm, "/v1/chat/completions", body)
    assert refused.status_code == 429
    error = refused.json()["error"]
    assert error["type"] == "rate_limit_error" and error["code"] == "budget_exceeded"
    now = datetime.now(UTC)
    next_month = datetime(now.year + now.month // 12, now.month % 12 + 1, 1, tzinfo=UTC)
    resets = next_month.isoformat().replace("+00:00", "Z")
    assert error["budget"] == {
        "type": "budget", "name": "support-month", "scope": "team", "subject": "support", "period": "month",
        "unit": "usd", "limit": 0.00002, "spent": pytest.approx(0.000031), "resets_at": resets,
    }  # fmt: skip
    assert "budget 'support-month' (team support, per month) is used up" in error["message"]
    assert refused.headers["x-should-retry"] == "false"
    assert int(refused.headers["retry-after"]) > 0

    status = llm.gateway.admin.get("/admin/llm/budget-status").json()
    assert status[0]["name"] == "support-month" and status[0]["spent"] == pytest.approx(0.000031)
    assert status[0]["remaining"] == 0 and status[0]["reserved"] == 0


def test_budgets_apply_to_their_subject_only(llm: LlmSetup) -> None:
    other = llm.gateway.create_agent("other", team="sales")
    llm.grant("other-models", ["*"], agents=["other"])
    llm.apply({"budgets": [{"name": "tiny", "agent": "bot", "period": "day", "tokens": 1}]})
    body = {"model": "fast", "messages": ONE, "max_tokens": 3}
    assert raw_post(llm, "/v1/chat/completions", body).status_code == 200
    assert raw_post(llm, "/v1/chat/completions", body).status_code == 429
    assert raw_post(llm, "/v1/chat/completions", body, key=other).status_code == 200


def test_a_budget_continues_from_the_ledger_after_a_restart(make_llm: Callable[..., LlmSetup]) -> None:
    setup = make_llm()
    setup.apply({"budgets": [{"name": "bot-day", "agent": "bot", "period": "day", "tokens": 30}]})
    body = {"model": "fast", "messages": ONE, "max_tokens": 10}
    assert raw_post(setup, "/v1/chat/completions", body).status_code == 200
    assert raw_post(setup, "/v1/chat/completions", body).status_code == 200
    setup._servers[0].stop()  # drains the ledger
    server, gateway = start_gateway(
        setup.gateway.database_url, llm_provider_keys=setup.gateway.settings.llm_provider_keys
    )
    try:
        setup.gateway = gateway
        assert raw_post(setup, "/v1/chat/completions", body).status_code == 200  # 22 < 30
        assert raw_post(setup, "/v1/chat/completions", body).status_code == 429
    finally:
        gateway.admin.close()
        server.stop()
