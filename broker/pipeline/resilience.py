"""The innermost stage: a circuit breaker per connector, and bounded retries for idempotent tools.

An open breaker answers at once (`UpstreamUnavailable`, naming the connector). A tool whose
annotations say it is idempotent (`idempotentHint`) or read-only (`readOnlyHint`) is tried
again, up to `Backoff.attempts` times in all, when its upstream timed out, could not be
reached, or answered 429 or 5xx, after a jittered wait or the upstream's `Retry-After`
(seconds or an HTTP-date; one longer than the longest wait is not waited for). Nothing else
is retried: a call that may have changed something upstream must not run twice.
"""

from __future__ import annotations

import asyncio

from broker.errors import UpstreamFailure, UpstreamUnavailable
from broker.pipeline.call import Next, Request, ToolCall
from broker.resilience import Backoff, BreakerOpen, Breakers, parse_retry_after
from connectors import errors
from connectors.base import Output


class Resilience:
    def __init__(self, breakers: Breakers, backoff: Backoff) -> None:
        self._breakers = breakers
        self._backoff = backoff

    async def __call__(self, request: Request, call_next: Next) -> Output:
        assert request.connector is not None, "Authorize resolves the connector first"
        breaker = self._breakers.get(f"connector '{request.connector}'")
        attempts = self._backoff.attempts if _idempotent(request) else 1
        retry = 0
        while True:
            try:
                await breaker.admit()
            except BreakerOpen as exc:
                raise UpstreamUnavailable(str(exc)) from None
            try:
                output = await call_next(request)
            except UpstreamFailure as exc:
                cause = exc.__cause__
                transient, fault, retry_after = _classify(cause)
                if fault is not None:
                    breaker.failure(fault)
                else:
                    if transient:  # 429: busy, not broken
                        self._breakers.error(breaker.name, "http_429")
                    breaker.success()  # it answered: the upstream is up, the call was refused
                if not transient or retry + 1 >= attempts:
                    raise
                delay = self._backoff.delay(retry, retry_after)
                if delay is None:
                    raise
                retry += 1
                await asyncio.sleep(delay)
                continue
            breaker.success()
            return output


def _idempotent(request: Request) -> bool:
    if not isinstance(request, ToolCall) or request.tool is None:
        return False
    if request.task is not None and request.task.method == "tools/call":
        return False  # starting a task again would start a second upstream task
    annotations = request.tool.spec.annotations or {}
    return annotations.get("idempotentHint") is True or annotations.get("readOnlyHint") is True


def _classify(cause: BaseException | None) -> tuple[bool, str | None, float | None]:
    """(worth retrying, the upstream's own fault if it is one, Retry-After seconds)."""
    if isinstance(cause, errors.UpstreamTimeout):
        return True, "timeout", None
    if isinstance(cause, errors.UpstreamUnreachable):
        return True, "unreachable", None
    if isinstance(cause, errors.UpstreamHTTPError):
        retry_after = parse_retry_after(cause.retry_after)
        if cause.status_code == 429:
            return True, None, retry_after
        if cause.status_code >= 500:
            return True, "http_5xx", retry_after
    return False, None, None
