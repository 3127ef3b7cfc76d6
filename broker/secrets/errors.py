"""The secret store's branch of the error tree (broker/errors.py), and the tool-call
outcomes of credential injection. Messages name secrets, never their values."""

from __future__ import annotations

from broker.errors import Conflict, NotConfigured, ToolCallError

GENERATE_HINT = "`broker secrets generate-key` prints a new key"


class SecretKeyError(ValueError):
    """The configured encryption keys are unusable; the gateway does not start with them."""


class SecretsNotConfigured(NotConfigured):
    """No encryption key is configured, so no secret can be stored or read."""

    def __init__(self) -> None:
        super().__init__(
            "the secret store has no encryption key: set BROKER_SECRET_KEYS (or BROKER_SECRET_KEY_FILE) "
            f"and restart the gateway; {GENERATE_HINT}"
        )


class UndecryptableSecrets(Conflict):
    """Stored secrets that none of the configured keys can decrypt."""

    code = "undecryptable_secrets"

    def __init__(self, names: list[str]) -> None:
        super().__init__(
            f"cannot decrypt the secret(s) {', '.join(names)} with any configured key: add the key they "
            "were encrypted with to BROKER_SECRET_KEYS (after the new one) and try again, or store them anew"
        )
        self.names = names


class CredentialsMissing(ToolCallError):
    """The upstream needs a secret the store does not have (or cannot decrypt)."""

    outcome = "credentials_missing"


class CredentialsUnavailable(ToolCallError):
    """The secret store could not be read (the database is down)."""

    outcome = "credentials_unavailable"
