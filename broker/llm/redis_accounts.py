"""Budgets and rate limits kept in Redis, shared by every gateway instance.

Admission is one Lua script over all the keys a call touches, so checking and reserving are
one atomic step for all instances together (the same rule as `LocalAccounts`: a budget
admits while something is left, a bucket while it holds a unit). Buckets use Redis's clock.
Settling is a second script. A budget window's key is created from the ledger the first
time any instance needs it (the script answers "seed me"), then lives until the window ends.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from redis.asyncio import Redis

from broker.llm.accounts import NEED, BudgetRule, Demand, Hold, Rules, SpentLoader, Window
from broker.llm.errors import MeteringUnavailable

log = logging.getLogger("broker.llm.redis")

PREFIX = "broker:llm:"

# KEYS: budget keys, then bucket keys.  ARGV: budget count, then per budget: limit, amount;
# then per bucket: capacity, rate, cost.
# Buckets expire 600 s after their last use (refilled by then).
# Returns {0} admitted; {1, i, spent} budget i used up; {2, i} budget i needs seeding;
# {3, j, wait} bucket j empty for `wait` seconds.
_ADMIT = """
local nb = tonumber(ARGV[1])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local need = tonumber(ARGV[2])
for i = 1, nb do
  local v = redis.call('HMGET', KEYS[i], 's', 'r')
  if not v[1] then return {2, i} end
  if tonumber(v[1]) + tonumber(v[2] or '0') >= tonumber(ARGV[1 + 2 * i]) then
    return {1, i, v[1]}
  end
end
local levels = {}
local a = 3 + 2 * nb
for j = nb + 1, #KEYS do
  local cap, rate = tonumber(ARGV[a]), tonumber(ARGV[a + 1])
  local v = redis.call('HMGET', KEYS[j], 'l', 't')
  local level = cap
  if v[1] then level = math.min(cap, tonumber(v[1]) + (now - tonumber(v[2])) * rate) end
  if level < need then return {3, j - nb, tostring((need - level) / rate)} end
  levels[j] = level
  a = a + 3
end
for i = 1, nb do
  redis.call('HINCRBYFLOAT', KEYS[i], 'r', ARGV[2 + 2 * i])
end
a = 3 + 2 * nb
for j = nb + 1, #KEYS do
  redis.call('HSET', KEYS[j], 'l', tostring(levels[j] - tonumber(ARGV[a + 2])), 't', tostring(now))
  redis.call('EXPIRE', KEYS[j], 600)
  a = a + 3
end
return {0}
"""

# KEYS: budget keys, then tpm bucket keys.  ARGV: budget count, then per budget: reserved,
# charged; then per bucket: capacity, refund (reserved cost - real tokens).
_SETTLE = """
local nb = tonumber(ARGV[1])
for i = 1, nb do
  if redis.call('EXISTS', KEYS[i]) == 1 then
    redis.call('HINCRBYFLOAT', KEYS[i], 'r', -tonumber(ARGV[2 * i]))
    redis.call('HINCRBYFLOAT', KEYS[i], 's', ARGV[2 * i + 1])
  end
end
local a = 2 + 2 * nb
for j = nb + 1, #KEYS do
  local level = redis.call('HGET', KEYS[j], 'l')
  if level then
    local cap = tonumber(ARGV[a])
    redis.call('HSET', KEYS[j], 'l', tostring(math.min(cap, tonumber(level) + tonumber(ARGV[a + 1]))))
  end
  a = a + 2
end
return 0
"""

# KEYS: a budget key. ARGV: spent from the ledger, seconds to live.
_SEED = """
if redis.call('HSETNX', KEYS[1], 's', ARGV[1]) == 1 then
  redis.call('HSETNX', KEYS[1], 'r', '0')
  redis.call('EXPIRE', KEYS[1], ARGV[2])
end
return 0
"""


class RedisAccounts:
    def __init__(self, url: str, load_spent: SpentLoader, *, fail_open: bool) -> None:
        self._redis: Redis = Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self._load_spent = load_spent
        self._fail_open = fail_open
        self._admit = self._redis.register_script(_ADMIT)
        self._settle = self._redis.register_script(_SETTLE)
        self._seed = self._redis.register_script(_SEED)

    async def admit(self, rules: Rules, demand: Demand) -> Hold:
        now = datetime.now(UTC)
        budgets = [(rule, rule.window(now)) for rule in rules.budgets]
        buckets = [b for limit in rules.limits for b in limit.buckets]
        keys = [PREFIX + rule.key(window) for rule, window in budgets] + [PREFIX + b.key for b in buckets]
        amounts = [rule.amount(demand.tokens, demand.usd) for rule, _ in budgets]
        args: list[Any] = [len(budgets), NEED]
        for (rule, _), amount in zip(budgets, amounts, strict=True):
            args += [rule.config.limit, amount]
        costs = [b.cost(demand) for b in buckets]
        for bucket, cost in zip(buckets, costs, strict=True):
            args += [bucket.capacity, bucket.rate, cost]
        for _ in range(3):  # seeding can be needed for a few windows at once
            result = await self._admit(keys=keys, args=args)
            code = int(result[0])
            if code == 0:
                hold = Hold()
                hold.budgets = [(rule, keys[i], amounts[i]) for i, (rule, _) in enumerate(budgets)]
                hold.buckets = list(zip(buckets, costs, strict=True))
                return hold
            if code == 1:
                rule, window = budgets[int(result[1]) - 1]
                raise rule.exceeded(window, float(result[2]), now)
            if code == 3:
                raise buckets[int(result[1]) - 1].exceeded(float(result[2]))
            rule, window = budgets[int(result[1]) - 1]
            await self._seed_budget(rule, window, keys[int(result[1]) - 1], now)
        raise MeteringUnavailable("budgets could not be initialised in Redis; try again shortly")

    async def _seed_budget(self, rule: BudgetRule, window: Window, key: str, now: datetime) -> None:
        try:
            spent = await self._load_spent(rule, window)
        except Exception as exc:
            log.warning("could not read budget '%s' spending from the ledger: %s", rule.config.name, exc)
            raise MeteringUnavailable(
                "the usage ledger cannot be read, so budgets cannot be checked; try again shortly"
            ) from None
        ttl = int((window.resets_at - now).total_seconds()) + 86400
        await self._seed(keys=[key], args=[spent, ttl])

    async def settle(self, hold: Hold, tokens: int, usd: float) -> None:
        tpm = [(bucket, cost) for bucket, cost in hold.buckets if bucket.tokens]
        if not hold.budgets and not tpm:
            return
        keys = [key for _, key, _ in hold.budgets] + [PREFIX + bucket.key for bucket, _ in tpm]
        args: list[Any] = [len(hold.budgets)]
        for rule, _, amount in hold.budgets:
            args += [amount, rule.amount(tokens, usd)]
        for bucket, cost in tpm:
            args += [bucket.capacity, cost - tokens]
        await self._settle(keys=keys, args=args)

    async def spent(self, rule: BudgetRule) -> tuple[float, float] | None:
        key = PREFIX + rule.key(rule.window(datetime.now(UTC)))
        spent, reserved = await self._redis.hmget(key, ["s", "r"])
        if spent is None:
            return None
        return float(spent), float(reserved or 0)

    async def close(self) -> None:
        await self._redis.aclose()
