"""Memory for /v1 request bodies: one request is bounded by `BROKER_LLM_MAX_REQUEST_BYTES`,
and all requests together by `BROKER_LLM_MAX_INFLIGHT_BYTES`.

A body is read whole (it is parsed, checked and re-serialised per provider), so each call
holds its bytes and their parsed form until it ends. The per-request bound alone lets many
concurrent large bodies grow the process without limit; the budget shared by all calls
caps that sum. A body is counted from its Content-Length before any of it is read (a body
sent chunked, as it arrives), and given back when its call ends. A call that finds the
budget spent is refused with 503 and Retry-After: the gateway sheds the largest work first
instead of swapping or being killed for memory.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class BodyBudget:
    limit: int
    used: int = field(default=0)

    def take(self, size: int) -> bool:
        """Count `size` more bytes in flight, if the budget allows it."""
        if self.used + size > self.limit:
            return False
        self.used += size
        return True

    def give_back(self, size: int) -> None:
        self.used = max(0, self.used - size)
