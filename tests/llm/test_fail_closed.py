"""When the usage ledger cannot be written, model calls stop (unless told to fail open)."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
from sqlalchemy import text

from broker.store.db import make_engine
from tests.llm.conftest import LlmSetup, raw_post

BODY = {"model": "fast", "messages": [{"role": "user", "content": "x"}]}


def break_ledger(llm: LlmSetup) -> None:
    engine = make_engine(llm.gateway.database_url)
    with engine.begin() as connection:
        connection.execute(text("ALTER TABLE llm_usage RENAME TO llm_usage_away"))
    engine.dispose()


def mend_ledger(llm: LlmSetup) -> None:
    engine = make_engine(llm.gateway.database_url)
    with engine.begin() as connection:
        connection.execute(text("ALTER TABLE llm_usage_away RENAME TO llm_usage"))
    engine.dispose()


def wait_for(status: int, llm: LlmSetup, timeout: float = 10) -> int:
    deadline = time.monotonic() + timeout
    while True:
        code = raw_post(llm, "/v1/chat/completions", BODY).status_code
        if code == status or time.monotonic() > deadline:
            return code
        time.sleep(0.1)


def test_calls_are_refused_while_the_ledger_is_down_and_nothing_is_lost(
    make_llm: Callable[..., LlmSetup],
) -> None:
    llm = make_llm(llm_ledger_flush_seconds=0.05)
    break_ledger(llm)
    assert wait_for(503, llm) == 503
    refused = raw_post(llm, "/v1/chat/completions", BODY)
    assert refused.json()["error"]["code"] == "metering_unavailable"
    assert "broker_llm_ledger_write_errors_total 0.0" not in httpx.get(f"{llm.gateway.url}/metrics").text
    mend_ledger(llm)
    assert wait_for(200, llm) == 200
    served = len(llm.mock.received)
    rows = llm.ledger(served)
    assert len([r for r in rows if r.status == "ok"]) == served, "calls served during the outage are stored"


def test_fail_open_keeps_serving(make_llm: Callable[..., LlmSetup]) -> None:
    llm = make_llm(llm_ledger_flush_seconds=0.05, llm_fail_open=True)
    break_ledger(llm)
    codes = [raw_post(llm, "/v1/chat/completions", BODY).status_code for _ in range(5)]
    time.sleep(0.3)
    codes += [raw_post(llm, "/v1/chat/completions", BODY).status_code for _ in range(5)]
    assert codes == [200] * 10
    mend_ledger(llm)
