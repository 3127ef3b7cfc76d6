"""The native e-mail and IPv4 findings (`email_found`, `ipv4_found`) are exactly the tuples their
Python references (`emails_found`, `ipv4s_found`) make of the spans, in every string width, on
generated text (the pieces of the e-mail and IP tests' edges) and on the labelled set."""

from __future__ import annotations

import json
import random

import pytest

from broker.pii import recognizers
from broker.pii.context import SEPARATOR
from tests.pii.labelled import labelled_set

_native = pytest.importorskip(
    "broker.pii._native", reason="broker.pii._native is not built (no Rust toolchain or crates): make native"
)

PIECES = [*"ab1.-_@: \n", "é", "\u0661", "\U0001f600", SEPARATOR, "user@example.com", "10.0.0.1"]
PIECES += ["192.168.1.254", "1.2.3.4.5", "v 1.2.3.4", "a..b@x.org", "256.1.1.1", "x@y", ".com"]


def same(native: object, python: object) -> bool:
    return native == python and repr(native) == repr(python)


def test_the_findings_match_the_references() -> None:
    rng = random.Random(5)
    texts = ["".join(rng.choice(PIECES) for _ in range(rng.randint(0, 30))) for _ in range(20_000)]
    samples = labelled_set(seed=11, texts=1500, records=300)
    texts += [
        SEPARATOR.join(s.text for s in samples),
        json.dumps([s.text for s in samples], ensure_ascii=False),
    ]
    for text in texts:
        assert same(_native.email_found(text), recognizers.emails_found(text))
        assert same(_native.ipv4_found(text), recognizers.ipv4s_found(text))
    assert sum(len(recognizers.emails_found(text)) for text in texts) > 5_000
    assert sum(len(recognizers.ipv4s_found(text)) for text in texts) > 5_000


def test_the_findings_are_native_and_share_the_entity() -> None:
    assert recognizers.email_found is _native.email_found
    assert recognizers.ipv4_found is _native.ipv4_found
    found = _native.email_found("a@example.com b@example.org")
    assert found[0][2] is found[1][2] == "EMAIL_ADDRESS"
    assert [span[:2] for span in _native.ipv4_found("é 10.0.0.1 \U0001f600 1.2.3.4")] == [(2, 10), (13, 20)]
