"""The pure parts of the LLM proxy: accounts, SSE splitting, stream meters, estimates."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from broker.llm.accounts import BudgetRule, Demand, LimitRule, LocalAccounts, Rules, Window
from broker.llm.config import BudgetConfig, RateLimitConfig
from broker.llm.errors import LimitExceeded, MeteringUnavailable
from broker.llm.sse import EventSplitter, event_fields
from broker.llm.tokens import estimate_messages, estimate_text
from broker.llm.usage import AnthropicStreamMeter, OpenAIStreamMeter, anthropic_stream_usage


def budget(**config: object) -> BudgetRule:
    return BudgetRule(BudgetConfig.model_validate({"name": "b", "agent": "bot", "period": "day", **config}))


async def no_spending(rule: BudgetRule, window: Window) -> float:
    return 0.0


async def test_a_budget_admits_while_something_is_left_and_settles_to_the_real_use() -> None:
    accounts = LocalAccounts(no_spending, fail_open=False)
    rules = Rules(budgets=(budget(tokens=100),))
    holds = []
    for _ in range(2):  # 0 + 0 < 100, then 0 + 60 < 100
        holds.append(await accounts.admit(rules, Demand(tokens=60, usd=0)))
    with pytest.raises(LimitExceeded) as refused:
        await accounts.admit(rules, Demand(tokens=60, usd=0))  # 0 + 120 >= 100
    assert refused.value.code == "budget_exceeded" and refused.value.detail["spent"] == 0
    for hold in holds:
        await accounts.settle(hold, tokens=20, usd=0)
    assert await accounts.spent(rules.budgets[0]) == (40.0, 0.0)
    await accounts.admit(rules, Demand(tokens=60, usd=0))


async def test_many_concurrent_admissions_reserve_atomically() -> None:
    accounts = LocalAccounts(no_spending, fail_open=False)
    rules = Rules(budgets=(budget(usd=1.0),))

    async def try_once() -> bool:
        try:
            await accounts.admit(rules, Demand(tokens=0, usd=0.3))
            return True
        except LimitExceeded:
            return False

    results = await asyncio.gather(*(try_once() for _ in range(50)))
    assert sum(results) == 4  # 0, 0.3, 0.6, 0.9 < 1.0: the overspend is at most one reservation


async def test_the_spending_so_far_is_read_once_per_window_and_failures_fail_closed() -> None:
    reads = 0

    async def from_ledger(rule: BudgetRule, window: Window) -> float:
        nonlocal reads
        reads += 1
        await asyncio.sleep(0.01)
        return 99.0

    accounts = LocalAccounts(from_ledger, fail_open=False)
    rules = Rules(budgets=(budget(tokens=100),))
    outcomes = await asyncio.gather(
        *(accounts.admit(rules, Demand(1, 0)) for _ in range(5)), return_exceptions=True
    )
    assert sum(not isinstance(o, LimitExceeded) for o in outcomes) == 1  # 99 + 0 < 100, then 99 + 1
    assert reads == 1, "concurrent first calls share one ledger read"

    async def broken(rule: BudgetRule, window: Window) -> float:
        raise OSError("database down")

    with pytest.raises(MeteringUnavailable):
        await LocalAccounts(broken, fail_open=False).admit(rules, Demand(1, 0))
    assert await LocalAccounts(broken, fail_open=True).admit(rules, Demand(1, 0)) is not None


def test_budget_windows_are_utc_days_and_months() -> None:
    now = datetime(2026, 12, 31, 23, 59, tzinfo=UTC)
    day, month = budget(tokens=1).window(now), budget(tokens=1, period="month").window(now)
    assert (day.id, day.resets_at) == ("2026-12-31", datetime(2027, 1, 1, tzinfo=UTC))
    assert (month.id, month.start, month.resets_at) == (
        "2026-12", datetime(2026, 12, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC),
    )  # fmt: skip


async def test_token_buckets_refill_and_say_when_to_come_back() -> None:
    clock = [0.0]
    accounts = LocalAccounts(no_spending, fail_open=False, clock=lambda: clock[0])
    limit = LimitRule(RateLimitConfig.model_validate({"name": "r", "agent": "bot", "rpm": 2, "tpm": 1000}))
    rules = Rules(limits=(limit,))
    await accounts.admit(rules, Demand(10, 0))
    await accounts.admit(rules, Demand(10, 0))
    with pytest.raises(LimitExceeded) as refused:
        await accounts.admit(rules, Demand(10, 0))
    assert refused.value.detail["limit"] == "rpm" and refused.value.retry_after == pytest.approx(30)
    clock[0] = 30.0
    hold = await accounts.admit(rules, Demand(5000, 0))  # tpm: admitted while >= 1 token is left
    with pytest.raises(LimitExceeded) as tokens:
        clock[0] = 60.0
        await accounts.admit(rules, Demand(10, 0))
    assert tokens.value.detail["limit"] == "tpm"
    await accounts.settle(hold, tokens=10, usd=0)  # the real use gives the rest back
    await accounts.admit(rules, Demand(10, 0))


def test_sse_events_split_across_and_within_chunks() -> None:
    splitter = EventSplitter()
    assert splitter.feed(b"data: 1\n\nda") == [b"data: 1\n\n"]
    assert splitter.feed(b"ta: 2\r\n\r\nevent: x\ndata: a\ndata: b\n\n") == [
        b"data: 2\r\n\r\n", b"event: x\ndata: a\ndata: b\n\n",
    ]  # fmt: skip
    assert splitter.rest() == b""
    assert event_fields(b"event: x\ndata: a\ndata: b\n\n") == (b"x", b"a\nb")
    assert event_fields(b"data: {}\n\n") == (None, b"{}")


def test_openai_stream_meter_keeps_usage_and_hides_the_chunk_it_asked_for() -> None:
    meter = OpenAIStreamMeter(strip_usage=True)
    assert meter.event(b'data: {"choices": [{"delta": {"content": "hello world"}}], "usage": null}\n\n')
    usage = b'data: {"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 2}}\n\n'
    assert meter.event(usage) is False
    assert meter.usage is not None and (meter.usage.prompt, meter.usage.completion) == (3, 2)
    assert meter.delivered_text() == "hello world"


def test_anthropic_stream_cut_before_its_end_is_estimated() -> None:
    meter = AnthropicStreamMeter()
    meter.event(b'event: s\ndata: {"type": "message_start", "message": {"usage": {"input_tokens": 7}}}\n\n')
    meter.event(b'event: d\ndata: {"type": "content_block_delta", "delta": {"text": "one two three"}}\n\n')
    usage = anthropic_stream_usage(meter, lambda: 0)
    assert (usage.prompt, usage.completion, usage.estimated) == (7, 3, True)


def test_estimates_are_close_to_gpt_tokenizers() -> None:
    assert estimate_text("The quick brown fox jumps over the lazy dog.") == 10  # cl100k: 10
    assert estimate_text("Hello world, this is a test.") == 8  # cl100k: 8
    assert estimate_messages([{"role": "user", "content": "hi"}]) == 3 + 4 + 1
