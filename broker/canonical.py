"""Canonical JSON: one byte string per value, whatever the key order. Used for argument
fingerprints (audit) and, later, cache keys."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any


def canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def fingerprint(key: bytes, value: Any) -> str:
    """A keyed hash, so low-entropy arguments cannot be recovered by guessing."""
    return hmac.new(key, canonical_json(value), hashlib.sha256).hexdigest()
