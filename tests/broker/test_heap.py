"""A snapshot refresh pauses the cyclic collector, and freezes what a big build made."""

from __future__ import annotations

import gc

from broker import heap


def _frozen(value: object) -> bool:
    """Whether the collector has stopped looking at `value` (it is in no generation)."""
    return all(item is not value for item in gc.get_objects())


def test_a_big_build_is_frozen_and_collection_resumes() -> None:
    try:
        with heap.building():
            assert not gc.isenabled()
            made = [{"n": i} for i in range(heap.BIG_BUILD_OBJECTS + 1000)]
        assert gc.isenabled()
        assert _frozen(made) and _frozen(made[-1])
    finally:
        gc.unfreeze()


def test_a_small_build_is_left_to_the_collector() -> None:
    with heap.building():
        made = [{"n": i} for i in range(1000)]
    assert gc.isenabled() and not _frozen(made)


def test_collection_turned_off_by_the_application_stays_off() -> None:
    gc.disable()
    try:
        with heap.building():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
