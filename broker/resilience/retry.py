"""Retry timing: `Retry-After` in both of its forms, and capped exponential backoff with jitter."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` header (RFC 9110 §10.2.3): delay-seconds ("120")
    or an HTTP-date ("Fri, 31 Dec 1999 23:59:59 GMT"); None when absent or unreadable.
    A date in the past means "now" (0)."""
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


@dataclass(frozen=True, slots=True)
class Backoff:
    """At most `attempts` tries in all; waits grow from `base_seconds` to `max_seconds`, jittered
    ("equal jitter": between half and all of the step). A `Retry-After` longer than
    `max_seconds` is not waited for: the call fails with the upstream's answer instead."""

    attempts: int = 3
    base_seconds: float = 0.2
    max_seconds: float = 2.0

    def delay(self, retry: int, retry_after: float | None = None) -> float | None:
        """The wait before retry number `retry` (0 for the first), or None: do not retry."""
        if retry_after is not None:
            return retry_after if retry_after <= self.max_seconds else None
        ceiling = min(self.max_seconds, self.base_seconds * 2**retry)
        return random.uniform(ceiling / 2, ceiling)  # noqa: S311 (jitter, not cryptography)
