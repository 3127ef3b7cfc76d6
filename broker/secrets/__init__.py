"""The secret store: credentials encrypted at rest, injected into upstream calls at the last
moment, never returned. `keys` encrypts, `service` stores, `vault` serves the call path."""

from broker.secrets.keys import Cipher, generate_key, load_cipher
from broker.secrets.vault import SecretValues, Vault

__all__ = ["Cipher", "SecretValues", "Vault", "generate_key", "load_cipher"]
