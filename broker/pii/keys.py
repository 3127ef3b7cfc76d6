"""The gateway's PII keys: the salt of keyed hashes and token ids, and the token vault's cipher.

- Salt: `BROKER_PII_SALT`; unset, an HMAC of the first `BROKER_SECRET_KEYS` key (stable on
  every instance and across restarts, but new after that key is rotated: new hashes and new
  tokens from then on, while tokens already issued keep resolving until they expire). With
  neither there is no salt, and policies that hash or tokenise fail their calls (never a
  random per-process salt: hashes and tokens must agree across restarts and instances).
- Vault keys: the secret store's keys (`BROKER_SECRET_KEYS`), plus a key derived from the
  salt, which seals when no secret key is configured and always still opens. Every value is
  sealed together with its agent and token (`broker.pii.sealing`), so a ciphertext copied
  onto another agent's row does not open there.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from broker.errors import ToolCallError
from broker.pii.sealing import TokenSealer
from broker.secrets.keys import Cipher, configured_keys
from broker.settings import Settings

_SALT_INFO = b"tool-broker pii salt v1"
_VAULT_INFO = b"tool-broker pii vault key v1"


class MaskingUnavailable(ToolCallError):
    """The agent's masking needs the PII salt (keyed hashes, tokens) and the gateway has none."""

    outcome = "masking_unavailable"

    def __init__(self) -> None:
        super().__init__(
            "this agent's masking policy hashes or tokenises personal data, which needs a key the gateway "
            "does not have: the operator must set BROKER_PII_SALT (or BROKER_SECRET_KEYS). The call was "
            "not sent upstream."
        )


class MaskingFailed(ToolCallError):
    """The token vault could not be read or written, so the result is withheld (never sent unmasked)."""

    outcome = "masking_failed"


def pii_salt(settings: Settings) -> bytes | None:
    """The salt for keyed hashes and token ids, or None when neither setting provides one."""
    if settings.pii_salt is not None:
        return settings.pii_salt.get_secret_value().encode()
    keys = configured_keys(settings)
    if keys:
        return hmac.new(keys[0].encode(), _SALT_INFO, hashlib.sha256).digest()
    return None


def vault_keys(settings: Settings, salt: bytes | None) -> list[str]:
    """The keys of the token vault: the secret keys, then the salt's key; empty without either."""
    keys = configured_keys(settings)
    if salt is not None:
        derived = hmac.new(salt, _VAULT_INFO, hashlib.sha256).digest()
        keys = [*keys, base64.urlsafe_b64encode(derived).decode()]
    return keys


def token_cipher(settings: Settings, salt: bytes | None) -> Cipher | None:
    """A Fernet cipher over the vault's keys (the LLM semantic cache seals its entries with it)."""
    keys = vault_keys(settings, salt)
    return Cipher(keys) if keys else None


def token_sealer(settings: Settings, salt: bytes | None) -> TokenSealer | None:
    """What the token vaults seal values with (see broker/pii/sealing.py); None without keys."""
    keys = vault_keys(settings, salt)
    return TokenSealer(keys) if keys else None


def sealed_name(agent: str, token: str) -> str:
    """What a token's value is encrypted with: its agent and the token itself."""
    return f"pii-token:{agent}:{token}"
