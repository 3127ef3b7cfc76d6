"""Where provider API keys come from: a secret name in the provider config, resolved here.

The proxy asks a `SecretSource` by name when it builds a provider (on a configuration change,
never per request). The gateway asks the encrypted secret store first (`VaultSecrets`), then
BROKER_LLM_PROVIDER_KEYS (`SettingsSecrets`, handy for a key kept in the environment).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Protocol

from pydantic import SecretStr

from broker.secrets.vault import Vault

log = logging.getLogger("broker.llm.credentials")


class SecretSource(Protocol):
    async def resolve(self, name: str, *, revision: int | None = None) -> str | None:
        """The secret's clear value, or None when there is none of that name. `revision` is the
        state revision being loaded: values cached from before it are not used."""
        ...


class VaultSecrets:
    """Secrets from the gateway's encrypted secret store."""

    def __init__(self, vault: Vault) -> None:
        self._vault = vault

    async def resolve(self, name: str, *, revision: int | None = None) -> str | None:
        try:
            values = await self._vault.resolve([name], revision=revision)
        except Exception as exc:  # the store is unreadable: the provider reports its key missing
            log.warning("could not read secret '%s' from the secret store: %s", name, type(exc).__name__)
            return None
        return values.get(name)


class SettingsSecrets:
    """Secrets given to the gateway in its settings (a JSON object of name -> value)."""

    def __init__(self, values: Mapping[str, SecretStr]) -> None:
        self._values = dict(values)

    async def resolve(self, name: str, *, revision: int | None = None) -> str | None:
        value = self._values.get(name)
        return value.get_secret_value() if value is not None else None


class ChainedSecrets:
    """Ask several sources in order; the first that knows the name wins."""

    def __init__(self, *sources: SecretSource) -> None:
        self._sources = sources

    async def resolve(self, name: str, *, revision: int | None = None) -> str | None:
        for source in self._sources:
            value = await source.resolve(name, revision=revision)
            if value is not None:
                return value
        return None
