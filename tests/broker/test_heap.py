"""A snapshot refresh pauses the cyclic collector, and freezes what a big build made."""

from __future__ import annotations

import gc

from broker import heap


def test_a_big_build_is_frozen_and_collection_resumes() -> None:
    frozen = gc.get_freeze_count()
    try:
        with heap.building():
            assert not gc.isenabled()
            made = [{"n": i} for i in range(heap.BIG_BUILD_OBJECTS + 1000)]
        assert gc.isenabled()
        assert gc.get_freeze_count() >= frozen + len(made)
    finally:
        gc.unfreeze()


def test_a_small_build_is_left_to_the_collector() -> None:
    gc.unfreeze()
    with heap.building():
        made = [{"n": i} for i in range(1000)]
    assert gc.isenabled() and gc.get_freeze_count() == 0 and made


def test_collection_turned_off_by_the_application_stays_off() -> None:
    gc.disable()
    try:
        with heap.building():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
