"""Keeping Python's cyclic collector off the event loop's back.

Python 3.11's collector is not incremental: a full collection walks every live container
with the GIL held, ~1 s on a loaded machine for a gateway's half a million objects, and the
hundreds of thousands of objects a big connector brings (a stored config of a thousand tools
parsed, validated and built) trigger several while they are made. Two measures:

- `settle()` at start-up: what start-up built (modules, the first snapshot) is frozen out of
  the collector's sight (`gc.freeze`), so a full collection walks only what came later;
- `building()` around a snapshot refresh: no collection while it builds; when it built a big
  connector, the result is frozen too, else the collector takes over again as before.

The cost: garbage cycles among frozen objects are never collected (a replaced connector's
client objects, a few kilobytes per replacement); acyclic garbage is freed as always.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

BIG_BUILD_OBJECTS = 100_000
"""Objects made by a refresh past which they are frozen rather than left to the collector."""


def settle() -> None:
    gc.freeze()


@contextlib.contextmanager
def building() -> Iterator[None]:
    """Collection paused for the block (in every thread); what it made frozen when that is much."""
    if not gc.isenabled():  # nested, or turned off by the embedding application: leave it so
        yield
        return
    gc.disable()
    before = gc.get_count()[0]  # with collection off, the youngest count only grows by what is made
    try:
        yield
    finally:
        if gc.get_count()[0] - before >= BIG_BUILD_OBJECTS:
            gc.freeze()
        gc.enable()
