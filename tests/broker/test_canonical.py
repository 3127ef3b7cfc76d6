"""Keyed hashes: HMAC-SHA256 of the canonical JSON, the same with the keyed context reused."""

from __future__ import annotations

import hmac

from broker.canonical import MEMO_CHARS, KeyedHash, canonical_json, fingerprint


def test_keyed_hashes_are_hmac_sha256_however_often_asked() -> None:
    key = b"audit-key"
    hashes = KeyedHash(key)
    some = {"b": [1, 2.5, "é"], "a": None}
    for value in [some, {}, {"long": "x" * MEMO_CHARS}, some]:
        expected = hmac.digest(key, canonical_json(value), "sha256").hex()
        assert hashes.fingerprint(value) == expected == fingerprint(key, value)
        text = canonical_json(value).decode()
        assert hashes.fingerprint_canonical(text) == expected == hashes.fingerprint_canonical(text)
    assert KeyedHash(b"").digest(b"") == hmac.digest(b"", b"", "sha256")
    assert KeyedHash(b"other").fingerprint({}) != hashes.fingerprint({})
