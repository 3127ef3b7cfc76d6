"""`gc_paused()`: no cyclic garbage collection during a synchronous stretch (never across an await).

Masking a large document, or writing thousands of vault rows, allocates many containers; the
collector would otherwise traverse the whole heap again and again (1 MB of JSON: about 40% of
the time). Reference counting still frees everything; the collector runs as usual once
re-enabled. Only the stretch that paused it re-enables it, so overlapping stretches (a worker
thread and the loop) are safe.
"""

from __future__ import annotations

import gc
from types import TracebackType


class gc_paused:
    """A plain class, not `contextlib.contextmanager`: it runs a few times per tool call, and a
    generator-based manager cost ~2 µs a use."""

    __slots__ = ("_paused",)

    def __enter__(self) -> None:
        self._paused = gc.isenabled()
        if self._paused:
            gc.disable()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self._paused:
            gc.enable()
