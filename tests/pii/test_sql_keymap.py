"""The SQLite write-behind vault's map of its places' keys (broker/pii/sql_keymap.py): a claim of
a token whose key no place holds asks the database nothing, and one whose key a place holds still
finds it (another value: named; expired: taken over; another pair's: held). The statements are
the ones SQLite was sent (its trace callback)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event

from broker.pii.keys import sealed_name
from broker.pii.sealing import TokenSealer
from broker.pii.sql_keys import reference_keys
from broker.pii.sql_vault import SqlTokenVault
from broker.secrets.keys import generate_key
from broker.store.db import make_engine
from broker.store.migrate import upgrade
from tests.pii.vault_tables import put_row, stored

SEALER = TokenSealer([generate_key()])
NOW = 1_800_000_000.0
HELD = "<EMAIL_ADDRESS_0000aaaa>"  # agent-1's, live, bob
EXPIRED = "<EMAIL_ADDRESS_0000bbbb>"  # agent-1's, expired, carol
OTHERS = "<EMAIL_ADDRESS_0000cccc>"  # agent-2's row sits under agent-1's key of this token
NEW = "<EMAIL_ADDRESS_0000dddd>"
SQUATTER = "<EMAIL_ADDRESS_0000eeee>"  # agent-1's, live, under agent-1's key of SQUATTED
SQUATTED = "<EMAIL_ADDRESS_0000ffff>"


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    url = f"sqlite:///{tmp_path / 'vault.db'}"
    upgrade(url)
    engine = make_engine(url)
    with engine.begin() as connection:
        for agent, token, under, value, expires in (
            ("agent-1", HELD, HELD, "bob@example.com", NOW + 600),
            ("agent-1", EXPIRED, EXPIRED, "carol@example.com", NOW - 1),
            ("agent-2", OTHERS, OTHERS, "dave@example.com", NOW + 600),
            ("agent-1", SQUATTER, SQUATTED, "frank@example.com", NOW + 600),
        ):
            put_row(
                connection,
                reference_keys(["agent-1"], [under])[0],
                agent,
                token,
                SEALER.seal(sealed_name(agent, token), value),
                expires,
                placed=True,
            )
    yield engine
    engine.dispose()


def rows(engine: Engine) -> dict[tuple[str, str], str]:
    return {(a, t): SEALER.open(sealed_name(a, t), c) for a, t, c in stored(engine)}


async def started(engine: Engine) -> tuple[SqlTokenVault, list[int]]:
    """A started write-behind vault with its map loaded, and a count of the lookups of places
    SQLite was sent from then on."""
    selects = [0]

    def trace(statement: str) -> None:
        if statement.startswith("SELECT id, chunk, at, expires_us FROM pii_token_places"):
            selects[0] += 1

    def traced(connection: Any, _: Any) -> None:
        connection.set_trace_callback(trace)

    engine.dispose()  # every connection from now on is traced
    event.listen(engine, "connect", traced)
    vault = SqlTokenVault(engine, SEALER, write_behind=True, flush_seconds=3600, clock=lambda: NOW)
    vault.start()
    for _ in range(500):
        if vault.knows_keys:
            break
        await asyncio.sleep(0.01)
    assert vault.knows_keys
    return vault, selects


async def test_a_claim_of_new_tokens_asks_the_database_nothing(engine: Engine) -> None:
    vault, selects = await started(engine)
    try:
        assert await vault.claim_many("agent-1", {NEW: "erin@example.com"}, 600) == set()
        assert await vault.claim_many("agent-3", {HELD: "erin@example.com"}, 600) == set()  # per agent
        assert selects == [0]
        assert await vault.flush()
        assert rows(engine)[("agent-1", NEW)] == "erin@example.com"
    finally:
        await vault.close()


async def test_a_claim_still_finds_what_the_table_holds(engine: Engine) -> None:
    vault, selects = await started(engine)
    try:
        claimed = await vault.claim_many(
            "agent-1",
            {HELD: "eve@example.com", EXPIRED: "eve@example.com", OTHERS: "eve@example.com"},
            600,
        )
        assert claimed == {HELD}  # another value: the issuer lengthens it
        assert selects[0] >= 1
        assert await vault.flush()  # OTHERS is refused there: agent-2's live row holds its key
        stored = rows(engine)
        assert stored[("agent-1", HELD)] == "bob@example.com"
        assert stored[("agent-1", EXPIRED)] == "eve@example.com"  # taken over
        assert stored[("agent-2", OTHERS)] == "dave@example.com"
        assert ("agent-1", OTHERS) not in stored
        assert await vault.claim_many("agent-1", {HELD: "bob@example.com"}, 600) == set()  # the same value
        # Its key's row is another token's (read back by the lookup, never taken for it): a claim
        # does not name it, the flush refuses it (and logs it).
        assert await vault.claim_many("agent-1", {SQUATTED: "gina@example.com"}, 600) == set()
        assert await vault.flush()
        assert ("agent-1", SQUATTED) not in rows(engine)
    finally:
        await vault.close()


async def test_a_flush_adds_its_keys_and_a_purge_takes_them_out(engine: Engine) -> None:
    vault, selects = await started(engine)
    try:
        await vault.put_many("agent-1", {NEW: "erin@example.com"}, 60)
        assert await vault.flush()
        vault._front.clear()
        assert await vault.get("agent-1", NEW) == "erin@example.com"  # its key is known: looked up
        assert selects == [1]
        vault.clock = lambda: NOW + 61
        assert await vault.purge() == 2  # NEW and EXPIRED
        assert await vault.get("agent-1", NEW) is None
        assert selects == [1]  # its key left with its row
        assert await vault.get("agent-1", HELD) == "bob@example.com"  # live: its key stays
    finally:
        await vault.close()


def tokens(count: int, start: int = 0) -> dict[str, str]:
    return {f"<EMAIL_ADDRESS_{n:08x}>": f"user{n}@example.com" for n in range(start, start + count)}


async def test_a_flush_rolled_back_leaves_no_place_in_the_map(tmp_path: Path) -> None:
    """A flush the database refuses half-way (here a trigger aborts its second statement of
    places) gives out ids that the next flush gives out again: the map must never have learnt
    them, or a token would be looked up in another token's place."""
    url = f"sqlite:///{tmp_path / 'vault.db'}"
    upgrade(url)
    engine = make_engine(url)
    first, second = tokens(1500), tokens(500, start=1500)
    refused = reference_keys(["agent-1"], [[*first][-1]])[0]
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "CREATE TRIGGER refuse BEFORE INSERT ON pii_token_places "
            f"WHEN NEW.token_key = {refused} BEGIN SELECT RAISE(ABORT, 'refused'); END"
        )
    vault = SqlTokenVault(engine, SEALER, write_behind=True, flush_seconds=3600, clock=lambda: NOW)
    try:
        await vault.put_many("agent-1", first, 600)
        assert not await vault.flush()  # still pending, and resolved from there
        assert await vault.get_many("agent-1", [*first][:3]) == [*first.values()][:3]
        with engine.begin() as connection:
            connection.exec_driver_sql("DROP TRIGGER refuse")
        await vault.put_many("agent-1", second, 600)
        assert await vault.flush()
        every = {**first, **second}
        assert await vault.get_many("agent-1", list(every)) == list(every.values())  # read back by id
        assert rows(engine) == {("agent-1", token): value for token, value in every.items()}
    finally:
        await vault.close()
    restarted = SqlTokenVault(engine, SEALER, write_behind=True, clock=lambda: NOW)
    assert await restarted.get_many("agent-1", list(every)) == list(every.values())
    await restarted.close()
    engine.dispose()


async def test_places_purged_and_given_out_again_hold_only_their_new_tokens(tmp_path: Path) -> None:
    """The places written last expire first and are purged; SQLite gives their ids to the next
    flush's places. The map forgets a purged place only where it still points there."""
    url = f"sqlite:///{tmp_path / 'vault.db'}"
    upgrade(url)
    engine = make_engine(url)
    clock = [NOW]
    vault = SqlTokenVault(engine, SEALER, write_behind=True, flush_seconds=3600, clock=lambda: clock[0])
    lasting, brief, after = tokens(300), tokens(300, start=300), tokens(300, start=600)
    try:
        await vault.put_many("agent-1", lasting, 600)
        assert await vault.flush()
        await vault.put_many("agent-1", brief, 60)  # the highest ids
        assert await vault.flush()
        clock[0] += 61
        assert await vault.purge() == len(brief)
        await vault.put_many("agent-1", after, 600)  # given the purged places' ids
        await vault.put_many(
            "agent-1", {next(iter(brief)): "another@example.com"}, 600
        )  # expired: free again
        assert await vault.flush()
        asked = [*lasting, *brief, *after]
        expected = [*lasting.values(), "another@example.com", *[None] * (len(brief) - 1), *after.values()]
        assert await vault.get_many("agent-1", asked) == expected
    finally:
        await vault.close()
    restarted = SqlTokenVault(engine, SEALER, write_behind=True, clock=lambda: clock[0])
    assert await restarted.get_many("agent-1", asked) == expected
    await restarted.close()
    engine.dispose()
