"""The gateway's maskers: one `Masker` per effective masking policy, over one token vault.

Agents whose policies mask alike share a masker (keyed by the plan's fingerprint), so its
memo of issued tokens serves them all. The vault follows the settings: Redis when
BROKER_REDIS_URL is set, else the database (see broker/pii/sql_vault.py); none when the
gateway has no PII salt, and then policies that hash or tokenise refuse their calls.
"""

from __future__ import annotations

import logging

from sqlalchemy import Engine

from broker.pii.keys import MaskingUnavailable, pii_salt, token_sealer
from broker.pii.masker import Masker
from broker.pii.plan import MaskingPlan
from broker.pii.redis_vault import RedisTokenVault
from broker.pii.sql_vault import SqlTokenVault
from broker.pii.vault import TokenVault
from broker.settings import Settings

log = logging.getLogger("broker.pii")

_UNSALTED = b"no salt: this masker neither hashes nor tokenises"
_LIMIT = 1_000


class Maskers:
    def __init__(self, salt: bytes | None, vault: TokenVault | None) -> None:
        self._salt = salt
        self.vault = vault
        self._by_fingerprint: dict[str, Masker] = {}

    @classmethod
    def from_settings(cls, settings: Settings, engine: Engine) -> Maskers:
        salt = pii_salt(settings)
        sealer = token_sealer(settings, salt)
        vault: TokenVault | None = None
        if salt is None or sealer is None:
            log.warning(
                "no PII salt (BROKER_PII_SALT or BROKER_SECRET_KEYS): calls of agents whose masking "
                "hashes or tokenises PII will be refused"
            )
        elif settings.redis_url:
            vault = RedisTokenVault.from_url(
                settings.redis_url, sealer, cache_entries=settings.pii_token_cache_entries
            )
        else:
            single = engine.dialect.name == "sqlite"  # one instance by design: write behind
            vault = SqlTokenVault(
                engine, sealer, write_behind=single, cache_entries=settings.pii_token_cache_entries
            )
        return cls(salt, vault)

    def for_plan(self, plan: MaskingPlan) -> Masker:
        """The masker of `plan`; MaskingUnavailable when it needs a salt the gateway lacks."""
        masker = self._by_fingerprint.get(plan.fingerprint)
        if masker is None:
            if plan.needs_salt and (self._salt is None or self.vault is None):
                raise MaskingUnavailable()
            if len(self._by_fingerprint) >= _LIMIT:
                self._by_fingerprint.clear()
            vault = self.vault if plan.per_agent else None
            masker = Masker(plan.policy, self._salt or _UNSALTED, vault)
            self._by_fingerprint[plan.fingerprint] = masker
        return masker

    def start(self) -> None:
        if isinstance(self.vault, SqlTokenVault):
            self.vault.start()

    async def close(self) -> None:
        if isinstance(self.vault, SqlTokenVault | RedisTokenVault):
            await self.vault.close()
