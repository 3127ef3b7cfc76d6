"""Canonical JSON: one byte string per value, whatever the key order. Used for argument
fingerprints (audit) and, later, cache keys."""

from __future__ import annotations

import hmac
import json
from typing import Any

CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
"""The canonical encoder, made once (`json.dumps` with options builds one per call)."""


def canonical_json(value: Any) -> bytes:
    return CANONICAL.encode(value).encode()


def fingerprint(key: bytes, value: Any) -> str:
    """A keyed hash, so low-entropy arguments cannot be recovered by guessing."""
    return hmac.digest(key, canonical_json(value), "sha256").hex()


def fingerprint_canonical(key: bytes, canonical: str) -> str:
    """`fingerprint` of the value whose canonical JSON (`CANONICAL.encode`) is `canonical`."""
    return hmac.digest(key, canonical.encode(), "sha256").hex()
