"""The native map of the SQLite token vault's places (broker/pii/native/src/keymap.rs) answers as
its Python reference (broker/pii/sql_keymap.py), on hostile agents and tokens."""

from __future__ import annotations

import random

import pytest

from broker.pii.sql_keymap import ReferenceKeyMap
from broker.pii.sql_keys import reference_keys
from tests.pii.test_native_keys import generated

_native = pytest.importorskip(
    "broker.pii._native", reason="broker.pii._native is not built (no Rust toolchain or crates): make native"
)


@pytest.mark.parametrize("seed", range(3))
def test_the_native_key_map_answers_as_the_reference(seed: int) -> None:
    native = _native.KeyMap()
    reference = ReferenceKeyMap()
    agents, tokens = generated(seed, 400)
    rng = random.Random(seed)
    for agent in [agents[0], "", "agent-\x00é\U0001d7ce"]:
        keys = reference_keys([agent] * len(tokens), tokens)
        some = [key for key in keys if rng.random() < 0.5] + [0, -(1 << 63), (1 << 63) - 1]
        ids = [rng.randrange(1, 1 << 40) for _ in some]
        # a quarter forgotten, a quarter asked to be forgotten from a place that no longer holds them
        stale = [place + 1 for place in ids[len(some) // 4 : len(some) // 2]]
        run, first = [key for key in keys if rng.random() < 0.2], rng.randrange(1, 1 << 40)
        for keymap in (native, reference):
            keymap.add(some, ids)
            keymap.add_run(run, first)  # a flush's places, after
            keymap.discard(some[: len(some) // 4], ids[: len(some) // 4])
            keymap.discard(some[len(some) // 4 : len(some) // 2], stale)
        assert native.placed(agent, tokens) == reference.placed(agent, tokens)
        batch = keys + keys[:20] + [rng.choice(keys) for _ in range(20)]
        rng.shuffle(batch)
        assert native.split(batch) == reference.split(batch)
        assert len(native) == len(reference)
        assert [key in native for key in keys] == [key in reference for key in keys]
        assert [native.get(key) for key in keys] == [reference.get(key) for key in keys]


def test_a_key_map_needs_an_id_for_each_key() -> None:
    for keymap in (_native.KeyMap(), ReferenceKeyMap()):
        with pytest.raises(ValueError, match="an id a key"):
            keymap.add([1, 2], [1])
        with pytest.raises(ValueError, match="an id a key"):
            keymap.discard([1], [])
