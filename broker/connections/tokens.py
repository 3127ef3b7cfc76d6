"""A user's tokens at an upstream, as stored (sealed) and cached."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from broker.connections.errors import GrantRefused

RENEW_LEEWAY = 60.0
"""A token is refreshed this long before it expires (or at a tenth of its lifetime if shorter)."""


@dataclass(frozen=True, slots=True)
class Tokens:
    access_token: str = field(repr=False)
    refresh_token: str | None = field(repr=False)
    expires_at: float | None
    scope: str
    renew_at: float | None

    def stale(self, now: float) -> bool:
        return self.renew_at is not None and now >= self.renew_at

    def seal(self) -> str:
        return json.dumps(
            {"a": self.access_token, "r": self.refresh_token, "e": self.expires_at, "s": self.scope,
             "n": self.renew_at}
        )  # fmt: skip

    @classmethod
    def unseal(cls, text: str) -> Tokens:
        data = json.loads(text)
        return cls(data["a"], data.get("r"), data.get("e"), data.get("s", ""), data.get("n"))

    @classmethod
    def from_answer(cls, answer: dict[str, Any], previous: Tokens | None = None) -> Tokens:
        access = answer.get("access_token")
        if not isinstance(access, str) or not access or any(ch in access for ch in "\r\n\0"):
            raise GrantRefused("the upstream's token endpoint answered without a usable access token")
        refresh = answer.get("refresh_token")
        if not isinstance(refresh, str) or not refresh:
            refresh = previous.refresh_token if previous is not None else None
        expires_in = answer.get("expires_in")
        now = time.time()
        expires_at = renew_at = None
        if isinstance(expires_in, int | float) and expires_in > 0:
            expires_at = now + float(expires_in)
            renew_at = expires_at - min(RENEW_LEEWAY, float(expires_in) / 10)
        scope = answer.get("scope")
        return cls(access, refresh, expires_at, scope if isinstance(scope, str) else "", renew_at)
