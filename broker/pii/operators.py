"""Masking operators: presidio-anonymizer's where they fit, two of our own where they do not.

`redact`, `replace`, `mask` and `keep` are presidio's `Redact`, `Replace`, `Mask` and `Keep`.
Presidio's `Hash` is SHA-256 over value+salt (random per call unless a salt is passed); ours,
`KeyedHash`, is an HMAC-SHA256 keyed from the broker's salt, so a value hashes alike across
calls and agents and nobody without the key can test guesses. `Tokenize` looks up the
reversible token issued for the value (see `Tokens`). Both are presidio `Operator`s, so they
also register with an `AnonymizerEngine`.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterable
from typing import Any

from presidio_anonymizer.operators import Keep, Mask, Operator, OperatorType, Redact, Replace

from broker import canonical
from broker.shared_text import ERRORS
from policies.masking import OperatorSpec

Apply = Callable[[str], str]
"""Masks one value of a given entity type."""

TOKEN_HEX = 8
"""Hex characters of a token id; more only when two values of one agent collide."""


class KeyedHash(Operator):
    """HMAC-SHA256 of the value under `key` (bytes), hex, cut to `length` characters."""

    def operate(self, text: str, params: dict[str, Any] | None = None) -> str:
        params = params or {}
        digest = hmac.new(params["key"], text.encode("utf-8", ERRORS), hashlib.sha256).hexdigest()
        return digest[: params.get("length", 64)]

    def validate(self, params: dict[str, Any] | None = None) -> None:
        params = params or {}
        key = params.get("key")
        if not isinstance(key, bytes) or len(key) < 16:
            raise ValueError("keyed hash needs a key of at least 16 bytes")
        length = params.get("length", 64)
        if not isinstance(length, int) or not 8 <= length <= 64:
            raise ValueError("keyed hash length must be 8..64")

    def operator_name(self) -> str:
        return "keyed_hash"

    def operator_type(self) -> OperatorType:
        return OperatorType.Anonymize


class Tokenize(Operator):
    """The token issued for (`entity_type`, value) in `tokens`, a mapping filled beforehand."""

    def operate(self, text: str, params: dict[str, Any] | None = None) -> str:
        params = params or {}
        token: str = params["tokens"][params["entity_type"], text]
        return token

    def validate(self, params: dict[str, Any] | None = None) -> None:
        if not isinstance((params or {}).get("tokens"), dict):
            raise ValueError("tokenize needs the issued tokens")

    def operator_name(self) -> str:
        return "tokenize"

    def operator_type(self) -> OperatorType:
        return OperatorType.Anonymize


def derive_key(salt: bytes, purpose: str) -> bytes:
    """A key for one purpose ('hash', 'token:<agent>') derived from the masking salt."""
    return hmac.new(salt, purpose.encode(), hashlib.sha256).digest()


class AgentMac(canonical.KeyedHash):
    """An agent's token HMAC that also keeps its derived key, for the native `tokens_for`
    (which keys its own HMAC with it: OpenSSL's context does not give its key back). The key is
    never shown: the default repr names the class only, and nothing logs it."""

    __slots__ = ("_key",)

    def __init__(self, key: bytes) -> None:
        super().__init__(key)
        self._key = key


def agent_mac(salt: bytes, agent: str) -> AgentMac:
    """The HMAC keyed for one agent's tokens, set up once and copied per token (`hmac`'s copy
    and hexdigest cost ~2.9 µs a token, the keyed context's copy ~1.65: a 5 MB result has 23,000)."""
    return AgentMac(derive_key(salt, f"token:{agent}"))


class AgentMacs:
    """`agent_mac` per agent, set up once: deriving the key and keying the HMAC cost ~4 µs, paid
    on every masked call before. Emptied whole past `most` agents (it never grows unbounded)."""

    __slots__ = ("_macs", "_most", "_salt")

    def __init__(self, salt: bytes, most: int = 10_000) -> None:
        self._salt = salt
        self._most = most
        self._macs: dict[str, AgentMac] = {}

    def __call__(self, agent: str) -> AgentMac:
        mac = self._macs.get(agent)
        if mac is None:
            if len(self._macs) >= self._most:
                self._macs.clear()
            mac = self._macs[agent] = agent_mac(self._salt, agent)
        return mac


def token_for(mac: canonical.KeyedHash, entity: str, value: str, length: int = TOKEN_HEX) -> str:
    """`<ENTITY_hex>`: the same for one agent and value, different across agents."""
    digest = mac.digest(f"{entity}\x00{value}".encode("utf-8", ERRORS))
    return f"<{entity}_{digest[: (length + 1) // 2].hex()[:length]}>"  # the hex of the bytes it shows


def reference_tokens_for(
    mac: canonical.KeyedHash, requests: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], str]:
    """`token_for` of each (entity, value), TOKEN_HEX long, in one loop: a 5 MB result asks for
    ~23,000, and the two calls a token costs through `token_for` were a third of the time (27 -> 19
    ms for 23,000)."""
    fresh = mac.copier()
    half = (TOKEN_HEX + 1) // 2
    tokens: dict[tuple[str, str], str] = {}
    for request in requests:
        entity, value = request
        keyed = fresh()
        keyed.update(f"{entity}\x00{value}".encode("utf-8", ERRORS))
        tokens[request] = f"<{entity}_{keyed.finalize()[:half].hex()[:TOKEN_HEX]}>"
    return tokens


keyed_tokens: Callable[[bytes, Iterable[tuple[str, str]]], dict[tuple[str, str], str]] | None
try:
    from broker.pii._native import keyed_tokens
except ImportError:  # not built: the loop above
    keyed_tokens = None


def tokens_for(mac: AgentMac, requests: Iterable[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """`reference_tokens_for`, natively where broker/pii/native/ is built (~5.5 against ~22 ms of
    CPU for a 5 MB result's 23,000); the keys are the request tuples themselves. Requests are
    exact (str, str) tuples there (a TypeError otherwise)."""
    if keyed_tokens is None:
        return reference_tokens_for(mac, requests)
    return keyed_tokens(mac._key, requests)


VALUE_FREE = frozenset({"redact", "replace"})
"""Operators whose output is the same whatever the value: written without calling them per value."""

_KEEP, _REDACT, _REPLACE, _MASK, _HASH, _TOKENIZE = (
    Keep(),
    Redact(),
    Replace(),
    Mask(),
    KeyedHash(),
    Tokenize(),
)


def build(spec: OperatorSpec, entity: str, hash_key: bytes) -> Apply | None:
    """The masking function for `entity` under `spec` (None for `token`: see `tokenize`).

    Presidio's parameter checks run once here, not per value.
    """
    name = spec.operator
    if name == "keep":
        return lambda text: _KEEP.operate(text, {})
    if name == "redact":
        return lambda text: _REDACT.operate(text, {})
    if name == "replace":
        replace_params = {"new_value": spec.value or f"<{entity}>"}
        _REPLACE.validate(replace_params)
        return lambda text: _REPLACE.operate(text, replace_params)
    if name == "mask":
        keep_last, char = spec.keep_last, spec.char
        _MASK.validate({"masking_char": char, "chars_to_mask": 0, "from_end": False})

        def mask(text: str) -> str:
            # At least half of a value is hidden, whatever keep_last says: 'Bob' is not kept whole.
            visible = min(keep_last, len(text) // 2)
            params = {"masking_char": char, "chars_to_mask": len(text) - visible, "from_end": False}
            return _MASK.operate(text, params)

        return mask
    if name == "hash":
        hash_params: dict[str, Any] = {"key": hash_key, "length": spec.length}
        _HASH.validate(hash_params)
        return lambda text: _HASH.operate(text, hash_params)
    return None


def tokenize(text: str, entity: str, tokens: dict[tuple[str, str], str]) -> str:
    """The token issued for `text` in this call (`tokens` is filled before masking starts)."""
    return _TOKENIZE.operate(text, {"tokens": tokens, "entity_type": entity})
