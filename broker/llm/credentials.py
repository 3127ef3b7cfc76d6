"""Where provider API keys come from: a secret name in the provider config, resolved here.

The proxy asks a `SecretSource` by name when it builds a provider (on a configuration change,
never per request). `SettingsSecrets` serves names from BROKER_LLM_PROVIDER_KEYS until the
encrypted secret store is wired in; any object with the same `resolve` method fits.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from pydantic import SecretStr


class SecretSource(Protocol):
    async def resolve(self, name: str) -> str | None:
        """The secret's clear value, or None when there is no secret of that name."""
        ...


class SettingsSecrets:
    """Secrets given to the gateway in its settings (a JSON object of name -> value)."""

    def __init__(self, values: Mapping[str, SecretStr]) -> None:
        self._values = dict(values)

    async def resolve(self, name: str) -> str | None:
        value = self._values.get(name)
        return value.get_secret_value() if value is not None else None


class ChainedSecrets:
    """Ask several sources in order; the first that knows the name wins."""

    def __init__(self, *sources: SecretSource) -> None:
        self._sources = sources

    async def resolve(self, name: str) -> str | None:
        for source in self._sources:
            value = await source.resolve(name)
            if value is not None:
                return value
        return None
