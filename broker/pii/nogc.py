"""`gc_paused()`: no cyclic garbage collection during a synchronous stretch (never across an await).

Masking a large document, or writing thousands of vault rows, allocates many containers; the
collector would otherwise traverse the whole heap again and again (1 MB of JSON: about 40% of
the time). Reference counting still frees everything; the collector runs as usual once
re-enabled. Only the stretch that paused it re-enables it, so overlapping stretches (a worker
thread and the loop) are safe.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
