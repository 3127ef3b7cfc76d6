"""The SQLite write-behind vault's record of its table's keys (broker/pii/sql_keyset.py): a claim
of a token whose key the table does not hold asks the database nothing, and one whose key it
holds still finds it (another value: named; expired: taken over; another pair's: held)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

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
            )
    yield engine
    engine.dispose()


def rows(engine: Engine) -> dict[tuple[str, str], str]:
    return {(a, t): SEALER.open(sealed_name(a, t), c) for a, t, c in stored(engine)}


async def started(engine: Engine) -> tuple[SqlTokenVault, list[int]]:
    """A started write-behind vault with its keys loaded, and a count of its SELECTs."""
    vault = SqlTokenVault(engine, SEALER, write_behind=True, flush_seconds=3600, clock=lambda: NOW)
    selects = [0]
    select_rows: Any = vault._driver.select

    def counted(*args: Any) -> Any:
        selects[0] += 1
        return select_rows(*args)

    vault._driver.select = counted  # type: ignore[method-assign,assignment]
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
        # does not name it, the flush refuses it (and logs it), as before the key record.
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
