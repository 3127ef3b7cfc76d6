"""The native record of the SQL token vault's keys (broker/pii/native/src/keyset.rs) answers as its
Python reference (broker/pii/sql_keyset.py), on hostile agents and tokens."""

from __future__ import annotations

import random

import pytest

from broker.pii.sql_keys import reference_keys
from broker.pii.sql_keyset import ReferenceKeySet
from tests.pii.test_native_keys import generated

_native = pytest.importorskip(
    "broker.pii._native", reason="broker.pii._native is not built (no Rust toolchain or crates): make native"
)


@pytest.mark.parametrize("seed", range(3))
def test_the_native_key_set_answers_as_the_reference(seed: int) -> None:
    native = _native.KeySet()
    reference = ReferenceKeySet()
    agents, tokens = generated(seed, 400)
    rng = random.Random(seed)
    for agent in [agents[0], "", "agent-\x00é\U0001d7ce"]:
        keys = reference_keys([agent] * len(tokens), tokens)
        some = [key for key in keys if rng.random() < 0.5] + [0, -(1 << 63), (1 << 63) - 1]
        for keyset in (native, reference):
            keyset.add(some)
            keyset.discard(some[: len(some) // 4])
        assert native.held(agent, tokens) == reference.held(agent, tokens)
        assert len(native) == len(reference)
        assert [key in native for key in keys] == [key in reference for key in keys]
