"""Circuit breakers: stop calling an upstream that keeps failing, and probe it now and then.

closed ──(threshold consecutive failures or timeouts)──▶ open ──(open_seconds)──▶ half-open
half-open: one call (the probe) goes through; success closes, failure opens again.

While open a call fails at once with `BreakerOpen`, naming the upstream and when it will be
tried again, and a fallback route moves to its next target without waiting for a timeout.

Each instance counts its own consecutive failures (no I/O on the success path). What opens
and closes is shared when Redis is configured: an instance that opens a breaker announces
it on the cluster bus (`broker.cluster`), so every instance stops calling that upstream; the
half-open probe is claimed in Redis (`SET NX`), so one instance of all probes; the probe's
outcome is announced too. Times on the bus are wall-clock (instances share no monotonic clock).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Literal

from broker.cluster import Bus

log = logging.getLogger("broker.resilience")

TOPIC = "breaker"
State = Literal["closed", "open", "half_open"]
STATE_VALUES: dict[State, int] = {"closed": 0, "open": 1, "half_open": 2}

ProbeClaim = Callable[[str, float], Awaitable[bool]]
"""(upstream, seconds) -> whether this instance may probe (shared claim in Redis)."""
Observer = Callable[[str, State], None]
ErrorCounter = Callable[[str, str], None]
"""(upstream, kind) for each failed call: timeout, unreachable, http_5xx, http_429, breaker_open."""


class BreakerOpen(Exception):
    def __init__(self, upstream: str, retry_in: float) -> None:
        self.upstream = upstream
        self.retry_in = retry_in
        super().__init__(
            f"{upstream} is unavailable: its circuit breaker is open after repeated failures; "
            f"it will be tried again in {max(retry_in, 0.0):.0f} s"
        )


class Breaker:
    def __init__(self, name: str, registry: Breakers) -> None:
        self.name = name
        self._registry = registry
        self.state: State = "closed"
        self.failures = 0
        self.open_until = 0.0  # wall-clock
        self._probing = False

    async def admit(self) -> None:
        """Raise BreakerOpen unless this call may go upstream (closed, or this is the probe)."""
        if self.state == "closed":
            return
        now = time.time()
        if self.state == "open" and now < self.open_until:
            self._registry.error(self.name, "breaker_open")
            raise BreakerOpen(self.name, self.open_until - now)
        # The open period is over: one call in all probes; the others keep failing fast.
        if self._probing or not await self._registry.claim_probe(self.name):
            self._registry.error(self.name, "breaker_open")
            raise BreakerOpen(self.name, self._registry.open_seconds)
        self._probing = True
        self._set("half_open")

    def success(self) -> None:
        self.failures = 0
        if self.state != "closed":
            self._probing = False
            self._set("closed")
            self._registry.announce(self.name, "closed", 0.0)

    def failure(self, kind: str) -> None:
        """A failure or timeout of the upstream itself (never a client's mistake)."""
        self._registry.error(self.name, kind)
        self.failures += 1
        if self.state == "half_open" or (
            self.state == "closed" and self.failures >= self._registry.threshold
        ):
            self._probing = False
            until = time.time() + self._registry.open_seconds
            self.apply("open", until)
            self._registry.announce(self.name, "open", until)
            log.warning(
                "circuit breaker of %s opened after %d failure(s); next probe in %g s",
                self.name,
                self.failures,
                self._registry.open_seconds,
            )

    def apply(self, state: State, until: float) -> None:
        """Take a state (ours, or announced by another instance)."""
        if state == "open":
            self.open_until = max(self.open_until, until) if self.state == "open" else until
        else:
            self.failures = 0
            self._probing = False
        self._set(state)

    def _set(self, state: State) -> None:
        if state != self.state:
            self.state = state
            self._registry.observe(self.name, state)


class Breakers:
    """The breakers of one instance, by upstream name ("connector 'crm'", "provider 'openai'")."""

    def __init__(
        self,
        *,
        threshold: int,
        open_seconds: float,
        bus: Bus | None = None,
        probe_claim: ProbeClaim | None = None,
        observer: Observer | None = None,
        errors: ErrorCounter | None = None,
    ) -> None:
        self._errors = errors
        self.threshold = threshold
        self.open_seconds = open_seconds
        self._bus = bus
        self._probe_claim = probe_claim
        self._observer = observer
        self._breakers: dict[str, Breaker] = {}
        self._pending: set[object] = set()
        if bus is not None:
            bus.subscribe(TOPIC, self._hear)

    def get(self, name: str) -> Breaker:
        breaker = self._breakers.get(name)
        if breaker is None:
            breaker = self._breakers[name] = Breaker(name, self)
        return breaker

    def states(self) -> dict[str, State]:
        return {name: breaker.state for name, breaker in self._breakers.items()}

    async def claim_probe(self, name: str) -> bool:
        if self._probe_claim is None:
            return True
        try:
            return await self._probe_claim(name, self.open_seconds)
        except Exception as exc:  # Redis away: probe from here rather than never
            log.warning("could not claim the probe of %s in Redis: %s", name, exc)
            return True

    def announce(self, name: str, state: State, until: float) -> None:
        if self._bus is None or not self._bus.shared:
            return
        import asyncio

        task = asyncio.get_running_loop().create_task(
            self._bus.publish(TOPIC, f"{state} {until:.3f} {name}"), name="broker-breaker-announce"
        )
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    def error(self, name: str, kind: str) -> None:
        if self._errors is not None:
            self._errors(name, kind)

    def observe(self, name: str, state: State) -> None:
        if self._observer is not None:
            self._observer(name, state)

    def _hear(self, payload: str) -> None:
        state, until, name = payload.split(" ", 2)
        if state in ("open", "closed"):
            self.get(name).apply(state, float(until))  # type: ignore[arg-type]
