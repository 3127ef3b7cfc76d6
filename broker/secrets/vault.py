"""Secrets for the call path: decrypted on demand, briefly cached, use tracked off the path.

The catalog snapshot never holds clear values. A call asks the vault for the secrets its
connector references; what is not cached is read from the database in one query and
decrypted in a worker thread, then kept for `cache_seconds` (default 60). A change to any
secret bumps the state revision, and a call carrying a newer snapshot revision empties the
cache, so a new value is in force on every instance within the state poll interval.

Which secrets a connector actually reads is noted in memory and written to `last_used_at`
in one batch every `last_used_seconds`, never on the call path.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from broker.secrets.errors import SecretsNotConfigured
from broker.secrets.keys import Cipher, Undecryptable
from broker.store.models import Secret
from broker.tasks import cancel_and_wait

log = logging.getLogger("broker.secrets")


class SecretValues(Mapping[str, str]):
    """The values resolved for one call. Reading one marks that secret as used."""

    __slots__ = ("_on_read", "_values")

    def __init__(self, values: dict[str, str], on_read: Callable[[str], None]) -> None:
        self._values = values
        self._on_read = on_read

    def __getitem__(self, name: str) -> str:
        value = self._values[name]
        self._on_read(name)
        return value

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"<SecretValues {sorted(self._values)}>"


class Vault:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        cipher: Cipher | None,
        *,
        cache_seconds: float = 60.0,
        last_used_seconds: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sessions = sessions
        self._cipher = cipher
        self._cache_seconds = cache_seconds
        self._last_used_seconds = last_used_seconds
        self._clock = clock
        self._cache: dict[str, tuple[str | None, float]] = {}
        """name -> (value, or None when absent or unreadable; when the entry expires)."""
        self._revision = -1
        self._used: dict[str, datetime] = {}
        self._flusher: asyncio.Task[None] | None = None

    @property
    def configured(self) -> bool:
        return self._cipher is not None

    @property
    def cipher(self) -> Cipher:
        """The cipher, for storing secrets; SecretsNotConfigured (503) without a key."""
        if self._cipher is None:
            raise SecretsNotConfigured()
        return self._cipher

    def invalidate(self) -> None:
        self._cache.clear()

    async def resolve(self, names: Iterable[str], *, revision: int | None = None) -> SecretValues:
        """The readable ones among `names`; absent or undecryptable secrets are left out
        (the connector that needs one says so). Raises SQLAlchemyError when the database fails."""
        if revision is not None and revision > self._revision:
            self._revision = revision
            self._cache.clear()
        now = self._clock()
        values: dict[str, str] = {}
        wanted: list[str] = []
        for name in names:
            cached = self._cache.get(name)
            if cached is None or cached[1] <= now:
                wanted.append(name)
            elif cached[0] is not None:
                values[name] = cached[0]
        if wanted:
            found = await asyncio.to_thread(self._read, sorted(wanted))
            expires = self._clock() + self._cache_seconds
            for name in wanted:
                value = found.get(name)
                if self._cache_seconds > 0:
                    self._cache[name] = (value, expires)
                if value is not None:
                    values[name] = value
        return SecretValues(values, self._note_used)

    def _read(self, names: list[str]) -> dict[str, str]:
        with self._sessions() as session:
            rows = session.execute(select(Secret.name, Secret.ciphertext).where(Secret.name.in_(names))).all()
        found: dict[str, str] = {}
        for name, ciphertext in rows:
            if self._cipher is None:
                log.error("secret '%s' is stored but the gateway has no key to decrypt it", name)
                continue
            try:
                found[name] = self._cipher.decrypt(name, ciphertext)
            except Undecryptable as exc:
                log.error("%s; calls that need it fail until it is fixed", exc)
        return found

    def _note_used(self, name: str) -> None:
        self._used[name] = datetime.now(UTC)

    def start(self) -> None:
        self._flusher = asyncio.create_task(self._run(), name="broker-secret-use")

    async def close(self) -> None:
        if self._flusher is not None:
            await cancel_and_wait(self._flusher)
            self._flusher = None
        await self.flush_last_used()
        self._cache.clear()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._last_used_seconds)
            await self.flush_last_used()

    async def flush_last_used(self) -> None:
        """Write the last-use times noted since the previous flush (kept for later on failure)."""
        if not self._used:
            return
        used, self._used = self._used, {}
        try:
            await asyncio.to_thread(self._write_used, used)
        except Exception:
            log.exception("could not record when %d secret(s) were last used; will retry", len(used))
            for name, at in used.items():
                self._used[name] = max(at, self._used.get(name, at))

    def _write_used(self, used: dict[str, datetime]) -> None:
        with self._sessions.begin() as session:
            for name, at in used.items():
                session.execute(update(Secret).where(Secret.name == name).values(last_used_at=at))
