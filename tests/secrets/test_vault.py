"""The vault on the call path: no database round trip for cached secrets, changes seen at
once, and last-use times written in batches, never by a call."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, event, select
from sqlalchemy.orm import Session, sessionmaker

from broker.secrets import service
from broker.secrets.keys import Cipher
from broker.secrets.vault import Vault
from broker.store.models import Secret


class Statements:
    """SQL statements run on the engine, for counting reads and writes."""

    def __init__(self, engine: Engine) -> None:
        self.seen: list[str] = []
        event.listen(engine, "before_cursor_execute", self._record)

    def _record(self, *args: object) -> None:
        self.seen.append(str(args[2]).split()[0].upper())

    def count(self, verb: str) -> int:
        return self.seen.count(verb)


@pytest.fixture
def statements(engine: Engine) -> Iterator[Statements]:
    watcher = Statements(engine)
    yield watcher
    event.remove(engine, "before_cursor_execute", watcher._record)


@pytest.fixture
def stored(sessions: sessionmaker[Session], cipher: Cipher) -> None:
    with sessions.begin() as session:
        service.put_secret(session, cipher, "a", "value-a")
        service.put_secret(session, cipher, "b", "value-b")


@pytest.mark.usefixtures("stored")
async def test_cached_values_need_no_query_until_they_expire(
    sessions: sessionmaker[Session], cipher: Cipher, statements: Statements
) -> None:
    now = [0.0]
    vault = Vault(sessions, cipher, cache_seconds=60, clock=lambda: now[0])
    assert dict(await vault.resolve(["a", "b", "ghost"])) == {"a": "value-a", "b": "value-b"}
    assert statements.count("SELECT") == 1  # one query for all three, the absent one too
    now[0] = 59.0
    assert dict(await vault.resolve(["a", "ghost"])) == {"a": "value-a"}
    assert statements.count("SELECT") == 1
    now[0] = 61.0
    await vault.resolve(["a"])
    assert statements.count("SELECT") == 2


@pytest.mark.usefixtures("stored")
async def test_a_newer_state_revision_or_an_invalidation_empties_the_cache(
    sessions: sessionmaker[Session], cipher: Cipher
) -> None:
    vault = Vault(sessions, cipher)
    assert (await vault.resolve(["a"], revision=5))["a"] == "value-a"
    with sessions.begin() as session:
        service.put_secret(session, cipher, "a", "new-a")
    assert (await vault.resolve(["a"], revision=5))["a"] == "value-a"  # same snapshot: cached
    assert (await vault.resolve(["a"], revision=4))["a"] == "value-a"  # an older call in flight
    assert (await vault.resolve(["a"], revision=6))["a"] == "new-a"
    with sessions.begin() as session:
        service.put_secret(session, cipher, "a", "newer-a")
    vault.invalidate()
    assert (await vault.resolve(["a"]))["a"] == "newer-a"


@pytest.mark.usefixtures("stored")
async def test_no_caching_reads_every_time(
    sessions: sessionmaker[Session], cipher: Cipher, statements: Statements
) -> None:
    vault = Vault(sessions, cipher, cache_seconds=0)
    await vault.resolve(["a"])
    await vault.resolve(["a"])
    assert statements.count("SELECT") == 2


@pytest.mark.usefixtures("stored")
async def test_last_use_is_noted_on_read_and_written_in_one_batch_later(
    sessions: sessionmaker[Session], cipher: Cipher, statements: Statements
) -> None:
    vault = Vault(sessions, cipher)
    for _ in range(5):
        values = await vault.resolve(["a", "b"])
        assert values["a"] == "value-a"  # the connector reads only "a"
    assert statements.count("UPDATE") == 0  # nothing written on the call path
    await vault.flush_last_used()
    assert statements.count("UPDATE") == 1
    with sessions() as session:
        used = {name: at for name, at in session.execute(select(Secret.name, Secret.last_used_at))}
    assert used["a"] is not None and used["b"] is None
    await vault.flush_last_used()
    assert statements.count("UPDATE") == 1  # nothing new to write


@pytest.mark.usefixtures("stored")
async def test_closing_writes_what_is_pending(sessions: sessionmaker[Session], cipher: Cipher) -> None:
    vault = Vault(sessions, cipher, last_used_seconds=3600)
    vault.start()
    (await vault.resolve(["b"]))["b"]
    await vault.close()
    with sessions() as session:
        assert service.get_secret(session, "b").last_used_at is not None


async def test_values_do_not_show_in_reprs(sessions: sessionmaker[Session], cipher: Cipher) -> None:
    with sessions.begin() as session:
        service.put_secret(session, cipher, "a", "value-a")
    values = await Vault(sessions, cipher).resolve(["a"])
    assert repr(values) == "<SecretValues ['a']>" and "value-a" not in str(values)
