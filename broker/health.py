"""Liveness and readiness, and draining on SIGTERM.

`/healthz` says the process answers. `/readyz` says this instance should get traffic: the
database answers and its schema is the one this code expects, Redis answers (when
configured), the tool and LLM snapshots are loaded, and the instance is not draining. Each
check is bounded in time, so a hanging dependency makes the answer "not ready", not a hang.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

from sqlalchemy import Engine, text

log = logging.getLogger("broker.health")

CHECK_TIMEOUT = 2.0


def expected_schema() -> str | None:
    """The migration head this code was written for."""
    from alembic.script import ScriptDirectory

    from broker.store.migrate import alembic_config

    head: str | None = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    return head


@dataclass
class Health:
    engine: Engine
    loaded: Callable[[], bool]
    redis_ping: Callable[[], Awaitable[None]] | None = None
    draining: bool = False
    _head: str | None = field(default=None, init=False)

    async def readiness(self) -> tuple[bool, dict[str, str]]:
        if self._head is None:
            self._head = await asyncio.to_thread(expected_schema)
        checks: dict[str, str] = {}
        checks["database"] = await self._bounded(self._schema())
        if self.redis_ping is not None:
            checks["redis"] = await self._bounded(self._redis())
        checks["state"] = "ok" if self.loaded() else "not loaded yet"
        checks["draining"] = "yes: shutting down" if self.draining else "ok"
        return all(value == "ok" for value in checks.values()), checks

    async def _bounded(self, check: Awaitable[str]) -> str:
        try:
            return await asyncio.wait_for(check, CHECK_TIMEOUT)
        except TimeoutError:
            return f"no answer within {CHECK_TIMEOUT:g} s"
        except Exception as exc:  # the reason, for the operator; never a credential (URLs are not shown)
            return f"unreachable: {type(exc).__name__}"

    async def _schema(self) -> str:
        def read() -> str | None:
            with self.engine.connect() as connection:
                query = text("SELECT version_num FROM alembic_version")
                value: str | None = connection.execute(query).scalar()
                return value

        found = await asyncio.to_thread(read)
        if found != self._head:
            return f"schema at {found}, this version needs {self._head}: run `broker db upgrade`"
        return "ok"

    async def _redis(self) -> str:
        assert self.redis_ping is not None
        await self.redis_ping()
        return "ok"

    def drain_on_sigterm(self, seconds: float) -> Callable[[], None]:
        """On SIGTERM, fail readiness at once and hand the signal to the server (uvicorn's
        graceful shutdown) `seconds` later; a second SIGTERM goes through at once. Only in the
        main thread (where the server installed its handlers). Returns the undo."""
        if threading.current_thread() is not threading.main_thread():
            return lambda: None
        loop = asyncio.get_running_loop()
        previous = signal.getsignal(signal.SIGTERM)

        def forward(sig: int, frame: FrameType | None) -> None:
            if callable(previous):
                previous(sig, frame)
            else:
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                signal.raise_signal(sig)

        def on_sigterm(sig: int, frame: FrameType | None) -> None:
            if self.draining or seconds <= 0:
                self.draining = True
                forward(sig, frame)
                return
            self.draining = True
            log.info("SIGTERM: draining for %g s (readiness fails), then shutting down", seconds)
            loop.call_soon_threadsafe(loop.call_later, seconds, forward, sig, frame)

        signal.signal(signal.SIGTERM, on_sigterm)

        def undo() -> None:
            if signal.getsignal(signal.SIGTERM) is on_sigterm:
                signal.signal(signal.SIGTERM, previous)

        return undo


def describe(ready: bool, checks: dict[str, Any]) -> dict[str, Any]:
    return {"status": "ready" if ready else "not ready", "checks": checks}
