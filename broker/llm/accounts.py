"""Budgets and rate limits: reserve before the call, settle after.

A call states its worst case (`Demand`: prompt estimate + max_tokens, and its price). It is
admitted when every budget that applies still has something left (spent + reserved < limit)
and every rate-limit bucket has room; admitting reserves the worst case. Settling releases
the reservation and charges what was used. So however many calls run at once, a budget is
overspent by at most one call's reservation.

Rate limits are token buckets refilled continuously: `rpm` holds one token per request,
`tpm` is charged the worst case on admission and corrected to the real count on settling.

`LocalAccounts` keeps the counters in this process (atomic: no await between check and
reserve). `broker.llm.redis_accounts.RedisAccounts` keeps them in Redis for many instances.
A budget's spending in the current window is loaded from the ledger the first time the
window is seen, never per request.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

from broker.errors import BrokerError
from broker.llm.config import BudgetConfig, RateLimitConfig
from broker.llm.errors import LimitExceeded, MeteringUnavailable

log = logging.getLogger("broker.llm.accounts")


@dataclass(frozen=True, slots=True)
class Window:
    id: str
    start: datetime
    resets_at: datetime


@dataclass(frozen=True, slots=True)
class Demand:
    tokens: int
    usd: float


@dataclass(frozen=True, slots=True)
class BudgetRule:
    config: BudgetConfig

    def applies_to(self, agent: str, team: str | None) -> bool:
        c = self.config
        return c.agent == agent if c.agent is not None else (team is not None and c.team == team)

    def window(self, now: datetime) -> Window:
        if self.config.period == "day":
            start = now.replace(hour=0, minute=0, second=0, microsecond=0)
            return Window(start.strftime("%Y-%m-%d"), start, start + timedelta(days=1))
        start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        end = (start + timedelta(days=32)).replace(day=1)
        return Window(start.strftime("%Y-%m"), start, end)

    def key(self, window: Window) -> str:
        c = self.config
        return f"budget:{c.name}:{c.scope}:{c.subject}:{c.unit}:{window.id}"

    def amount(self, tokens: float, usd: float) -> float:
        return float(tokens) if self.config.unit == "tokens" else usd

    def exceeded(self, window: Window, spent: float, now: datetime) -> LimitExceeded:
        c = self.config
        unit = "tokens" if c.unit == "tokens" else "USD"
        resets = window.resets_at.isoformat().replace("+00:00", "Z")
        detail = {
            "type": "budget", "name": c.name, "scope": c.scope, "subject": c.subject, "period": c.period,
            "unit": c.unit, "limit": c.limit, "spent": round(spent, 6), "resets_at": resets,
        }  # fmt: skip
        message = (
            f"budget '{c.name}' ({c.scope} {c.subject}, per {c.period}) is used up: {spent:.6g} of "
            f"{c.limit:g} {unit} spent; it resets at {resets}"
        )
        return LimitExceeded("budget_exceeded", message, detail, (window.resets_at - now).total_seconds())


@dataclass(frozen=True, slots=True)
class Bucket:
    key: str
    capacity: float
    rate: float
    """Refill per second."""
    tokens: bool
    """A tpm bucket (charged the demand's tokens) rather than an rpm one (charged 1)."""
    rule: RateLimitConfig

    def cost(self, demand: Demand) -> float:
        return float(demand.tokens) if self.tokens else 1.0

    def exceeded(self, retry_after: float) -> LimitExceeded:
        c, what = self.rule, "tpm" if self.tokens else "rpm"
        detail = {
            "type": "rate_limit", "name": c.name, "scope": c.scope, "subject": c.subject, "limit": what,
            "value": int(self.capacity), "retry_after_seconds": round(retry_after, 3),
        }  # fmt: skip
        noun = "tokens" if self.tokens else "requests"
        message = (
            f"rate limit '{c.name}' ({c.scope} {c.subject}: {int(self.capacity)} {noun} per minute) reached; "
            f"retry after {retry_after:.1f}s"
        )
        return LimitExceeded("rate_limited", message, detail, retry_after)


NEED = 1.0
"""A bucket admits a call while it holds at least one unit (a tpm bucket may then go into debt)."""


@dataclass(frozen=True, slots=True)
class LimitRule:
    config: RateLimitConfig
    buckets: tuple[Bucket, ...] = field(init=False)

    def __post_init__(self) -> None:
        c = self.config
        base = f"rate:{c.name}:{c.scope}:{c.subject}"
        found = []
        if c.rpm:
            found.append(Bucket(f"{base}:rpm", c.rpm, c.rpm / 60, False, c))
        if c.tpm:
            found.append(Bucket(f"{base}:tpm", c.tpm, c.tpm / 60, True, c))
        object.__setattr__(self, "buckets", tuple(found))

    def applies_to(self, agent: str, team: str | None) -> bool:
        c = self.config
        return c.agent == agent if c.agent is not None else (team is not None and c.team == team)


@dataclass(frozen=True, slots=True)
class Rules:
    budgets: tuple[BudgetRule, ...] = ()
    limits: tuple[LimitRule, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.budgets and not self.limits


@dataclass(slots=True)
class Hold:
    """What an admission reserved; `settle` gives it back and charges the real use."""

    budgets: list[tuple[BudgetRule, str, float]] = field(default_factory=list)
    buckets: list[tuple[Bucket, float]] = field(default_factory=list)


SpentLoader = Callable[[BudgetRule, Window], Awaitable[float]]
"""Reads a budget's spending in a window from the ledger (a database query)."""


class Accounts(Protocol):
    async def admit(self, rules: Rules, demand: Demand) -> Hold: ...
    async def settle(self, hold: Hold, tokens: int, usd: float) -> None: ...
    async def close(self) -> None: ...
    async def spent(self, rule: BudgetRule) -> tuple[float, float] | None:
        """Spent and reserved in the current window, if known here."""
        ...


class LocalAccounts:
    """Counters in this process. Correct for any number of concurrent calls in one instance."""

    def __init__(
        self, load_spent: SpentLoader, *, fail_open: bool, clock: Callable[[], float] = time.monotonic
    ):
        self._load_spent = load_spent
        self._fail_open = fail_open
        self._clock = clock
        self._spent: dict[str, float] = {}
        self._reserved: dict[str, float] = {}
        self._seeding: dict[str, asyncio.Future[None]] = {}
        self._levels: dict[str, tuple[float, float]] = {}

    async def admit(self, rules: Rules, demand: Demand) -> Hold:
        now = datetime.now(UTC)
        budgets = []
        for rule in rules.budgets:
            window = rule.window(now)
            key = rule.key(window)
            if key not in self._spent and not await self._seed(rule, window, key):
                continue  # fail-open: the ledger could not be read, this budget is not enforced now
            budgets.append((rule, window, key))
        # From here to the end: no await, so the check and the reservation are one step.
        for rule, window, key in budgets:
            if self._spent[key] + self._reserved.get(key, 0.0) >= rule.config.limit:
                raise rule.exceeded(window, self._spent[key], now)
        tick = self._clock()
        buckets = [b for limit in rules.limits for b in limit.buckets]
        levels = []
        for bucket in buckets:
            level, last = self._levels.get(bucket.key, (bucket.capacity, tick))
            level = min(bucket.capacity, level + (tick - last) * bucket.rate)
            if level < NEED:
                raise bucket.exceeded((NEED - level) / bucket.rate)
            levels.append(level)
        hold = Hold()
        for rule, _, key in budgets:
            amount = rule.amount(demand.tokens, demand.usd)
            self._reserved[key] = self._reserved.get(key, 0.0) + amount
            hold.budgets.append((rule, key, amount))
        for bucket, level in zip(buckets, levels, strict=True):
            cost = bucket.cost(demand)
            self._levels[bucket.key] = (level - cost, tick)
            hold.buckets.append((bucket, cost))
        return hold

    async def settle(self, hold: Hold, tokens: int, usd: float) -> None:
        for rule, key, amount in hold.budgets:
            if key in self._reserved:
                self._reserved[key] -= amount
                self._spent[key] = self._spent.get(key, 0.0) + rule.amount(tokens, usd)
        for bucket, cost in hold.buckets:
            if bucket.tokens and bucket.key in self._levels:
                level, last = self._levels[bucket.key]
                self._levels[bucket.key] = (min(bucket.capacity, level + cost - tokens), last)

    async def spent(self, rule: BudgetRule) -> tuple[float, float] | None:
        key = rule.key(rule.window(datetime.now(UTC)))
        if key not in self._spent:
            return None
        return self._spent[key], self._reserved.get(key, 0.0)

    async def close(self) -> None:
        return None

    async def _seed(self, rule: BudgetRule, window: Window, key: str) -> bool:
        pending = self._seeding.get(key)
        if pending is None:
            pending = self._seeding[key] = asyncio.ensure_future(self._load(rule, window, key))
            pending.add_done_callback(lambda _: self._seeding.pop(key, None))
        try:
            await asyncio.shield(pending)
        except BrokerError:
            if self._fail_open:
                return False
            raise
        return True

    async def _load(self, rule: BudgetRule, window: Window, key: str) -> None:
        try:
            spent = await self._load_spent(rule, window)
        except Exception as exc:
            log.warning("could not read budget '%s' spending from the ledger: %s", rule.config.name, exc)
            raise MeteringUnavailable(
                "the usage ledger cannot be read, so budgets cannot be checked; try again shortly"
            ) from None
        prefix = key.rsplit(":", 1)[0] + ":"
        for old in [k for k in self._spent if k.startswith(prefix) and k != key]:
            self._spent.pop(old, None)
            self._reserved.pop(old, None)
        self._spent.setdefault(key, spent)
