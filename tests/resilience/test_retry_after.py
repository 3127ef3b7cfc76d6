from __future__ import annotations

from datetime import UTC, datetime

from broker.resilience import Backoff, parse_retry_after

NOW = datetime(2026, 12, 6, 0, 0, 0, tzinfo=UTC)


def test_retry_after_in_both_forms() -> None:
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after("Sun, 06 Dec 2026 00:00:30 GMT", now=NOW) == 30.0
    assert parse_retry_after("Sat, 05 Dec 2026 23:00:00 GMT", now=NOW) == 0.0  # in the past: now
    assert (
        parse_retry_after("soon") is None
        and parse_retry_after(None) is None
        and parse_retry_after("-3") is None
    )


def test_backoff_is_jittered_capped_and_refuses_long_retry_afters() -> None:
    backoff = Backoff(attempts=3, base_seconds=0.2, max_seconds=1.0)
    waits = {backoff.delay(0) for _ in range(50)}
    assert len(waits) > 1 and all(w is not None and 0.1 <= w <= 0.2 for w in waits)
    assert all((w := backoff.delay(10)) is not None and 0.5 <= w <= 1.0 for _ in range(20))
    assert backoff.delay(0, retry_after=0.5) == 0.5
    assert backoff.delay(0, retry_after=30) is None  # not worth holding the call: fail with the answer
