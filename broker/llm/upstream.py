"""Sending a call upstream: the route's targets in order, with bounded, jittered retries.

A target is retried on 5xx, 429, timeouts and connection errors, up to its provider's
`max_retries`; then the next target (the fallback) is tried, without waiting. A target whose
circuit breaker is open (`broker.resilience`) is skipped at once, without a request. The whole call
makes at most `max_attempts` upstream requests. All of this happens before anything has
been sent to the client: a stream that has started is never retried. Refused credentials
(401/403) move on to the next target at once; other 4xx answers are the caller's to see.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from broker.llm.catalog import Target
from broker.llm.errors import UpstreamError
from broker.resilience import BreakerOpen, Breakers, parse_retry_after
from connectors.http1 import Response, UpstreamConnectionError, UpstreamTimeout

log = logging.getLogger("broker.llm.upstream")

KINDS_OF_ENDPOINT = {"chat": ("openai", "anthropic"), "embeddings": ("openai",), "messages": ("anthropic",)}
"""Which provider kinds can serve an endpoint (chat completions reach Anthropic translated)."""
_ERROR_BODY_LIMIT = 64 * 1024


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 4
    base_seconds: float = 0.25
    max_seconds: float = 2.0

    def delay(self, retry: int, retry_after: float | None) -> float:
        if retry_after is not None and 0 <= retry_after <= self.max_seconds:
            return retry_after
        ceiling = min(self.max_seconds, self.base_seconds * 2**retry)
        return random.uniform(ceiling / 2, ceiling)  # noqa: S311 (jitter, not cryptography)


@dataclass(slots=True)
class Opened:
    target: Target
    response: Response
    """Open (its body unread): a 2xx, or a 4xx the client should see. The caller closes it."""
    attempts: int


async def open_upstream(
    targets: tuple[Target, ...],
    endpoint: str,
    body_for: Callable[[Target], bytes],
    client_headers: Mapping[str, str],
    policy: RetryPolicy,
    breakers: Breakers,
) -> Opened:
    attempts = 0
    failure: UpstreamError | None = None
    usable = [t for t in targets if t.provider.kind in KINDS_OF_ENDPOINT[endpoint]]
    if not usable:
        raise UpstreamError(
            f"no target of this model speaks the {endpoint} API (its providers are "
            f"{', '.join(sorted({t.provider.kind for t in targets}))})",
            status_code=400,
            code="unsupported_endpoint",
        )
    for target in usable:
        provider = target.provider
        if provider.problem is not None:
            failure = UpstreamError(f"provider '{provider.name}' is misconfigured: {provider.problem}")
            continue
        if provider.missing_secret is not None:
            failure = UpstreamError(
                f"provider '{provider.name}' has no API key: secret '{provider.missing_secret}' is not set"
            )
            continue
        breaker = breakers.get(f"provider '{provider.name}'")
        body = body_for(target)
        headers = provider.request_headers(client_headers)
        headers["content-type"] = "application/json"
        retry_after: float | None = None
        for retry in range(provider.config.max_retries + 1):
            if attempts >= policy.max_attempts:
                break
            if retry:
                await asyncio.sleep(policy.delay(retry - 1, retry_after))
            try:
                await breaker.admit()
            except BreakerOpen as exc:  # skip it at once: no request, no timeout to wait for
                failure = UpstreamError(str(exc), status_code=503, code="upstream_unavailable")
                break
            attempts += 1
            retry_after = None
            try:
                response = await provider.http.post(provider.path(endpoint), headers, body)
            except UpstreamTimeout:
                breaker.failure("timeout")
                failure = UpstreamError(
                    f"provider '{provider.name}' timed out", status_code=504, code="upstream_timeout"
                )
                continue
            except UpstreamConnectionError as exc:
                breaker.failure("unreachable")
                failure = UpstreamError(f"provider '{provider.name}' could not be reached: {exc}")
                continue
            status = response.status_code
            if status >= 500:
                breaker.failure("http_5xx")
            else:
                breaker.success()
                if status == 429:
                    breakers.error(breaker.name, "http_429")
            if status < 400 or (status < 500 and status not in (401, 403, 408, 429)):
                return Opened(target, response, attempts)
            retry_after = _retry_after(response.headers.get("retry-after"))
            await _discard(response)
            if status in (401, 403):
                failure = UpstreamError(
                    f"provider '{provider.name}' refused the gateway's credentials (HTTP {status})"
                )
                log.warning("provider '%s' answered %d: check its API key secret", provider.name, status)
                break
            failure = UpstreamError(f"provider '{provider.name}' answered HTTP {status}")
        if attempts >= policy.max_attempts:
            break
    assert failure is not None
    failure.attempts = attempts
    if attempts > 1:
        failure.message += f" (after {attempts} attempts)"
    raise failure


def _retry_after(value: str | None) -> float | None:
    return parse_retry_after(value)


async def _discard(response: Response) -> None:
    read = 0
    try:
        async for chunk in response.aiter_bytes():
            read += len(chunk)
            if read > _ERROR_BODY_LIMIT:
                break
    except (UpstreamTimeout, UpstreamConnectionError):
        pass
    finally:
        await response.aclose()
