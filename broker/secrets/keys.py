"""Encryption at rest: Fernet (AES-128-CBC + HMAC-SHA256) with a list of keys.

The first key encrypts; every key decrypts. Rotation: put a new key first, keep the old
ones after it, run `broker secrets rotate-key` (everything is re-encrypted with the new
key), then drop the old keys.

What is encrypted is the secret's name and value together, and the name is checked on
decryption: a ciphertext copied onto another row of the table does not decrypt there.
"""

from __future__ import annotations

import json
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from broker.secrets.errors import GENERATE_HINT, SecretKeyError
from broker.settings import Settings


class Undecryptable(Exception):
    """This ciphertext does not decrypt with the configured keys (or not for this name)."""


def generate_key() -> str:
    """A new random key, in the form BROKER_SECRET_KEYS takes."""
    return Fernet.generate_key().decode()


class Cipher:
    def __init__(self, keys: list[str]) -> None:
        if not keys:
            raise SecretKeyError(f"no secret encryption key given; {GENERATE_HINT}")
        fernets = []
        for position, key in enumerate(keys, 1):
            try:
                fernets.append(Fernet(key.encode()))
            except (ValueError, TypeError):  # the message would not say which key; never echo it
                raise SecretKeyError(
                    f"secret encryption key {position} of {len(keys)} is not a valid Fernet key "
                    f"(32 url-safe base64-encoded bytes); {GENERATE_HINT}"
                ) from None
        self._fernet = MultiFernet(fernets)
        self.key_count = len(fernets)

    def encrypt(self, name: str, value: str) -> bytes:
        return self._fernet.encrypt(_payload(name, value))

    def decrypt(self, name: str, token: bytes, ttl: int | None = None) -> str:
        """The value sealed for `name`; with `ttl`, only if it was sealed at most that many
        seconds ago (Fernet's own timestamp)."""
        try:
            plain = json.loads(self._fernet.decrypt(token, ttl=ttl))
        except InvalidToken:
            raise Undecryptable(f"secret '{name}' does not decrypt with any configured key") from None
        if (
            not isinstance(plain, dict)
            or plain.get("name") != name
            or not isinstance(plain.get("value"), str)
        ):
            raise Undecryptable(f"secret '{name}' holds a ciphertext made for another secret")
        value: str = plain["value"]
        return value

    def rotate(self, name: str, token: bytes) -> bytes:
        """The same secret encrypted with the primary (first) key."""
        return self.encrypt(name, self.decrypt(name, token))


def _payload(name: str, value: str) -> bytes:
    return json.dumps({"name": name, "value": value}, ensure_ascii=False).encode()


def configured_keys(settings: Settings) -> list[str]:
    """The keys from BROKER_SECRET_KEYS (comma-separated) or BROKER_SECRET_KEY_FILE (one per
    line, '#' comments); empty when neither is set. Raises SecretKeyError."""
    if settings.secret_keys is not None and settings.secret_key_file is not None:
        raise SecretKeyError("set BROKER_SECRET_KEYS or BROKER_SECRET_KEY_FILE, not both")
    if settings.secret_keys is not None:
        keys = [k.strip() for k in settings.secret_keys.get_secret_value().split(",")]
        source = "BROKER_SECRET_KEYS"
    elif settings.secret_key_file is not None:
        keys = _read_key_file(settings.secret_key_file)
        source = f"BROKER_SECRET_KEY_FILE ({settings.secret_key_file})"
    else:
        return []
    keys = [k for k in keys if k]
    if not keys:
        raise SecretKeyError(f"{source} holds no key; {GENERATE_HINT}")
    return keys


def load_cipher(settings: Settings) -> Cipher | None:
    """The cipher for the configured keys; None when no key is configured."""
    keys = configured_keys(settings)
    return Cipher(keys) if keys else None


def _read_key_file(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SecretKeyError(
            f"cannot read BROKER_SECRET_KEY_FILE {path}: {exc.strerror or type(exc).__name__}"
        ) from None
    except UnicodeDecodeError:
        raise SecretKeyError(f"BROKER_SECRET_KEY_FILE {path} is not UTF-8 text") from None
    return [line.strip() for line in text.splitlines() if not line.strip().startswith("#")]
