"""Agent API keys: random, recognisable by their `tbk_` prefix, stored only as a SHA-256.

The keys carry 238 bits of randomness, so a plain fast hash is the right tool (as for
GitHub or Stripe tokens): no salt or slow KDF is needed against guessing, and a lookup by
hash stays one index probe.
"""

from __future__ import annotations

import hashlib
import secrets
import string

KEY_PREFIX = "tbk_"
_ALPHABET = string.ascii_letters + string.digits
_SECRET_LENGTH = 40
DISPLAY_LENGTH = len(KEY_PREFIX) + 8


def new_key() -> str:
    return KEY_PREFIX + "".join(secrets.choice(_ALPHABET) for _ in range(_SECRET_LENGTH))


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def display_prefix(key: str) -> str:
    """The part shown in listings and logs to tell keys apart, e.g. `tbk_Ab12Cd34`."""
    return key[:DISPLAY_LENGTH]


def looks_like_key(token: str) -> bool:
    """The prefix, then exactly the secret's length of ASCII letters and digits (checked in
    C: a character-by-character generator was a visible share of a cache hit's CPU)."""
    secret = token[len(KEY_PREFIX) :]
    return (
        token.startswith(KEY_PREFIX)
        and len(secret) == _SECRET_LENGTH
        and secret.isascii()
        and secret.isalnum()
    )
