"""Upstream resilience: circuit breakers per connector and per LLM provider, and bounded,
jittered retries that honour `Retry-After`."""

from broker.resilience.breaker import Breaker, BreakerOpen, Breakers
from broker.resilience.retry import Backoff, parse_retry_after

__all__ = ["Backoff", "Breaker", "BreakerOpen", "Breakers", "parse_retry_after"]
