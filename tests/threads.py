"""A worker-thread pool whose jobs start late: a write still running when its caller is cancelled,
as on a loaded machine (tests/llm/test_ledger_writes.py, tests/broker/test_audit_writer.py)."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any


class SlowStart(ThreadPoolExecutor):
    """The loop's executor (`loop.set_default_executor`), each job starting `delay` seconds late."""

    def __init__(self, delay: float) -> None:
        super().__init__(max_workers=4)
        self._delay = delay

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        def late() -> Any:
            time.sleep(self._delay)
            return fn(*args, **kwargs)

        return super().submit(late)
