"""How the token vaults encrypt values at rest: AES-256-GCM, bound to agent and token.

A 5 MB result can issue 30,000 tokens; sealing each with Fernet (a new AES-CBC and HMAC
context per value, and the value wrapped in JSON with its name) cost ~22 µs, the largest
single item of masking such a result. AES-GCM with one key context per sealer, the name as
associated data and one `os.urandom` call per batch of nonces costs ~1.5 µs, and binds a
ciphertext to its (agent, token) as firmly: a row copied onto another agent's token fails
its tag. The SQL vault's flush seals natively (`sealed_chunk`, ring's AES-GCM under the same
derived key, held by the sealer as its `AESGCM` holds it): the same bytes, ~0.3 µs a value.

    sealed = 0x01 | nonce (12 bytes) | ciphertext and tag

The keys are derived from the same key list as the secret store's `Cipher` (the first seals,
every one opens), so rotation works the same way. Rows sealed by earlier versions with Fernet
(they start with 0x80, base64 'gAAAAA') still open through that `Cipher`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from broker.pii.sql_rows import reference_chunk_body
from broker.secrets.keys import Cipher, Undecryptable
from broker.shared_text import ERRORS

_VERSION = b"\x01"
_NONCE = 12
_INFO = b"tool-broker pii token aes-gcm v1"


class TokenSealer:
    """Seals token values for the vaults; opens what it or the Fernet-based vault sealed."""

    def __init__(self, keys: list[str]) -> None:
        self._legacy = Cipher(keys)  # validates the keys; opens rows sealed with Fernet
        self._key = _derive(keys[0])  # what seal_chunk seals with natively, as _aeads[0] does
        self._aeads = [AESGCM(self._key), *(AESGCM(_derive(key)) for key in keys[1:])]

    def seal(self, name: str, value: str) -> bytes:
        nonce = os.urandom(_NONCE)
        return _VERSION + nonce + self._aeads[0].encrypt(nonce, value.encode("utf-8", ERRORS), name.encode())

    def seal_many(self, names: Sequence[str], values: Sequence[str]) -> list[bytes]:
        """`seal` of each value with its name, in order: one call for all the nonces."""
        encrypt = self._aeads[0].encrypt
        nonces = os.urandom(_NONCE * len(names))
        return [
            _VERSION
            + (nonce := nonces[at : at + _NONCE])
            + encrypt(nonce, value.encode("utf-8", ERRORS), name.encode())
            for at, name, value in zip(range(0, len(nonces), _NONCE), names, values, strict=True)
        ]

    def seal_chunk(self, rows: list[tuple[str, str, str, float]]) -> tuple[bytes, list[int]]:
        """`seal` of each (agent, token, value, expires) row's value with its name
        (`broker.pii.keys.sealed_name(agent, token)`), as the pieces of a chunk of the SQL vault
        (broker/pii/sql_rows.py): its body and each piece's offset. Natively (ring's AES-GCM, the
        same bytes as cryptography's) ~0.27 µs a value, pieces and nonces included, where
        cryptography's `encrypt` called from Rust cost ~0.91 and `seal_many`, the names made for
        it and the pieces joined ~2."""
        return sealed_chunk(self._key, _VERSION, os.urandom(_NONCE * len(rows)), rows)

    def open(self, name: str, sealed: bytes) -> str:
        """The value sealed for `name`; `Undecryptable` when no key opens it for that name."""
        if sealed[:1] != _VERSION:
            return self._legacy.decrypt(name, sealed)
        nonce, body, context = sealed[1 : 1 + _NONCE], sealed[1 + _NONCE :], name.encode()
        for aead in self._aeads:
            try:
                return aead.decrypt(nonce, body, context).decode("utf-8", ERRORS)
            except (InvalidTag, ValueError):
                continue
        raise Undecryptable(f"a PII token value for '{name}' does not open with any configured key")


def _derive(key: str) -> bytes:
    """A 256-bit AES key of its own from a Fernet key (never the Fernet key's halves as such)."""
    raw = base64.urlsafe_b64decode(key.encode())
    return hmac.new(raw, _INFO, hashlib.sha256).digest()


def row_name(agent: str, token: str) -> str:
    """`broker.pii.keys.sealed_name` (which imports this module), as the native code makes it."""
    return f"pii-token:{agent}:{token}"


def reference_sealed_rows(
    key: bytes, version: bytes, nonces: bytes, rows: list[tuple[str, str, str, float]]
) -> list[bytes]:
    """Each row's value sealed for its name with cryptography's AES-GCM under `key`, its nonce
    the row's 12 bytes of `nonces`: `version | nonce | ciphertext and tag`."""
    if len(nonces) != _NONCE * len(rows):
        raise ValueError("12 bytes of nonce a row are needed")
    if len(key) != 32:  # AESGCM would take AES-128's and AES-192's as well
        raise ValueError("an AES-256-GCM key is 32 bytes")
    encrypt = AESGCM(key).encrypt
    sealed: list[bytes] = []
    for at, (agent, token, value, _) in zip(range(0, len(nonces), _NONCE), rows, strict=True):
        nonce = nonces[at : at + _NONCE]
        sealed.append(
            version + nonce + encrypt(nonce, value.encode("utf-8", ERRORS), row_name(agent, token).encode())
        )
    return sealed


def reference_sealed_chunk(
    key: bytes, version: bytes, nonces: bytes, rows: list[tuple[str, str, str, float]]
) -> tuple[bytes, list[int]]:
    """`reference_sealed_rows` as the pieces of a chunk (`broker.pii.sql_rows.reference_chunk_body`)."""
    return reference_chunk_body(rows, reference_sealed_rows(key, version, nonces, rows))


try:
    from broker.pii._native import sealed_chunk
except ImportError:  # not built
    sealed_chunk = reference_sealed_chunk
