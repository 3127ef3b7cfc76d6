"""The SQL token vault's layout (migration 0017, broker/pii/sql_rows.py): a write's values in one
chunk per agent, a slot per token. On SQLite and PostgreSQL: tokens in many chunks resolve after
a restart, each token expires on its own and may then be taken over, a purge deletes the chunks
no live token points to, and no chunk, piece or slot opens for another agent or token."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, MetaData, Table, insert, select, update

from broker.pii.front import TokenConflict
from broker.pii.keys import sealed_name
from broker.pii.sealing import TokenSealer
from broker.pii.sql_driver import Driver
from broker.pii.sql_keys import reference_keys
from broker.pii.sql_rows import CHUNK, piece_at
from broker.pii.sql_vault import SqlTokenVault
from broker.secrets.keys import Cipher, generate_key
from broker.store.db import make_engine
from broker.store.migrate import downgrade, upgrade
from broker.store.models import PiiTokenChunk, PiiTokenPlace, PiiTokenSlot
from tests.pii.vault_tables import count, slots

KEY = generate_key()
SEALER = TokenSealer([KEY])
NOW = 1_800_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    upgrade(database_url)
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


def tokens(count: int, start: int = 0) -> dict[str, str]:
    return {f"<EMAIL_ADDRESS_{n:08x}>": f"user{n}@example.com" for n in range(start, start + count)}


def key_of(agent: str, token: str) -> int:
    return reference_keys([agent], [token])[0]


@pytest.mark.parametrize("write_behind", [True, False], ids=["write-behind", "synchronous"])
async def test_tokens_in_many_chunks_resolve_after_a_restart(engine: Engine, write_behind: bool) -> None:
    clock = Clock()
    vault = SqlTokenVault(engine, SEALER, write_behind=write_behind, clock=clock)
    first, second = tokens(Driver.ROWS + 500), tokens(CHUNK + 50, start=Driver.ROWS + 500)
    assert await vault.claim_many("agent-1", first, 600) == set()
    assert await vault.claim_many("agent-2", {"<EMAIL_ADDRESS_00000001>": "eve@example.com"}, 600) == set()
    await vault.flush()
    assert await vault.claim_many("agent-1", second, 60) == set()
    await vault.close()
    # agent-1: one write of 1,500 (6 chunks, slots in 2 statements) and one of 300 (2); agent-2: 1
    assert count(engine, PiiTokenChunk) == -(-len(first) // CHUNK) + -(-len(second) // CHUNK) + 1 == 9
    assert slot_count(engine) == len(first) + len(second) + 1

    restarted = SqlTokenVault(engine, SEALER, write_behind=write_behind, clock=clock)
    every = {**first, **second}
    asked = [*every, "<EMAIL_ADDRESS_ffffffff>"]
    assert await restarted.get_many("agent-1", asked) == [*every.values(), None]
    assert await restarted.get("agent-2", "<EMAIL_ADDRESS_00000001>") == "eve@example.com"
    assert await restarted.get("agent-2", "<EMAIL_ADDRESS_00000002>") is None
    taken = {"<EMAIL_ADDRESS_00000001>": "mallory@example.com"}  # a live token's value never changes
    assert await restarted.claim_many("agent-1", taken, 600) == set(taken)
    await restarted.close()
    clock.now += 120  # the second write's tokens expired, the first's not
    fresh = SqlTokenVault(engine, SEALER, write_behind=write_behind, clock=clock)
    assert await fresh.get_many("agent-1", [*second][:3]) == [None] * 3
    assert await fresh.get("agent-1", [*first][-1]) == first[[*first][-1]]


@pytest.mark.parametrize("write_behind", [True, False], ids=["write-behind", "synchronous"])
async def test_an_expired_token_is_taken_over_and_its_chunk_purged_once_no_live_token_points_to_it(
    engine: Engine, write_behind: bool
) -> None:
    clock = Clock()
    vault = SqlTokenVault(engine, SEALER, write_behind=write_behind, clock=clock)
    short, long = tokens(3), tokens(2, start=3)
    await vault.put_many("agent-1", short, 60)  # chunk 1
    await vault.flush()
    await vault.put_many("agent-1", long, 600)  # chunk 2
    await vault.flush()
    assert count(engine, PiiTokenChunk) == 2

    clock.now += 61  # chunk 1's tokens expired: one is taken over by a new value (into chunk 3)
    taken = next(iter(short))
    await vault.put_many("agent-1", {taken: "new@example.com"}, 600)
    await vault.flush()
    assert count(engine, PiiTokenChunk) == 3
    assert await vault.purge() == 2  # the other two of chunk 1
    assert count(engine, PiiTokenChunk) == 2  # chunk 1: no slot points to it any more
    assert slot_count(engine) == 3
    await vault.close()
    restarted = SqlTokenVault(engine, SEALER, write_behind=write_behind, clock=clock)
    assert await restarted.get_many("agent-1", [*short, *long]) == [
        "new@example.com",
        None,
        None,
        *long.values(),
    ]

    clock.now += 600  # everything expired: every chunk goes
    assert await restarted.purge() == 3
    assert count(engine, PiiTokenChunk) == slot_count(engine) == 0


@pytest.mark.parametrize("write_behind", [True, False], ids=["write-behind", "synchronous"])
async def test_a_chunk_without_any_slot_is_purged(engine: Engine, write_behind: bool) -> None:
    """A write whose every token was held by then leaves a chunk no slot points to."""
    clock = Clock()
    vault = SqlTokenVault(engine, SEALER, write_behind=write_behind, clock=clock)
    await vault.put("agent-1", "<T_1>", "a", 600)
    await vault.flush()
    with contextlib.suppress(TokenConflict):  # refused at once, or writing behind in the flush (logged)
        await vault.put("agent-1", "<T_1>", "b", 600)
    await vault.flush()
    assert count(engine, PiiTokenChunk) == 2
    assert await vault.purge() == 0
    assert count(engine, PiiTokenChunk) == 1
    await vault.close()
    restarted = SqlTokenVault(engine, SEALER, write_behind=write_behind, clock=clock)
    assert await restarted.get("agent-1", "<T_1>") == "a"
    await restarted.close()


async def test_no_chunk_piece_or_slot_opens_for_another_agent_or_token(engine: Engine) -> None:
    clock = Clock()
    vault = SqlTokenVault(engine, SEALER, write_behind=False, clock=clock)
    await vault.put_many("agent-1", {"<T_1>": "alice", "<T_2>": "bob"}, 600)
    (chunk,) = [row.id for row in _all(engine, PiiTokenChunk)]
    with engine.begin() as connection:
        slot = connection.execute(
            select(PiiTokenSlot).where(PiiTokenSlot.token_key == key_of("agent-1", "<T_1>"))
        ).one()
        # agent-2's slot of <T_1> into agent-1's chunk: the chunk is not agent-2's
        connection.execute(
            insert(PiiTokenSlot).values(
                token_key=key_of("agent-2", "<T_1>"), chunk=chunk, at=slot.at, expires_us=slot.expires_us
            )
        )
        # agent-1's slot of <T_3> onto <T_1>'s piece: the piece is another token's
        connection.execute(
            insert(PiiTokenSlot).values(
                token_key=key_of("agent-1", "<T_3>"), chunk=chunk, at=slot.at, expires_us=slot.expires_us
            )
        )
    fresh = SqlTokenVault(engine, SEALER, write_behind=False, clock=clock)
    assert await fresh.get("agent-2", "<T_1>") is None
    assert await fresh.get("agent-1", "<T_3>") is None

    # the whole chunk handed to agent-2, and its slots moved under agent-2's keys: its values were
    # sealed with agent-1 and their tokens, and do not open
    with engine.begin() as connection:
        connection.execute(update(PiiTokenChunk).values(agent="agent-2"))
        connection.execute(
            update(PiiTokenSlot)
            .where(PiiTokenSlot.token_key == key_of("agent-1", "<T_2>"))
            .values(token_key=key_of("agent-2", "<T_2>"))
        )
    fresh = SqlTokenVault(engine, SEALER, write_behind=False, clock=clock)
    assert await fresh.get_many("agent-2", ["<T_1>", "<T_2>"]) == [None, None]
    assert await fresh.get("agent-1", "<T_1>") is None  # its chunk is no longer agent-1's

    # a piece's token rewritten to another of the agent's tokens: its value does not open as it
    with engine.begin() as connection:
        connection.execute(update(PiiTokenChunk).values(agent="agent-1"))
        body = bytes(connection.execute(select(PiiTokenChunk.body)).scalar_one())
        piece = piece_at(body, slot.at)
        assert piece == ("<T_1>", piece[1] if piece else b"")
        connection.execute(update(PiiTokenChunk).values(body=body.replace(b"<T_1>", b"<T_9>")))
        connection.execute(
            update(PiiTokenSlot)
            .where(PiiTokenSlot.token_key == key_of("agent-1", "<T_1>"))
            .values(token_key=key_of("agent-1", "<T_9>"))
        )
    fresh = SqlTokenVault(engine, SEALER, write_behind=False, clock=clock)
    assert await fresh.get("agent-1", "<T_9>") is None
    await fresh.put("agent-1", "<T_9>", "carol", 600)  # unreadable: taken over
    assert (
        await SqlTokenVault(engine, SEALER, write_behind=False, clock=clock).get("agent-1", "<T_9>")
        == "carol"
    )


def slot_count(engine: Engine) -> int:
    """Slots in either layout: keyed, or places (SQLite writing behind)."""
    return count(engine, PiiTokenSlot) + count(engine, PiiTokenPlace)


def _all(engine: Engine, table: type[PiiTokenChunk] | type[PiiTokenSlot]) -> list[object]:
    with engine.connect() as connection:
        return list(connection.execute(select(table)).all())


async def test_the_layout_migrates_both_ways_with_every_token(database_url: str) -> None:
    """0016's rows (AES-GCM and Fernet, live and expired, several agents, more than a chunk of
    one) become chunks and slots and resolve; tokens written after, and every row, go back to
    0016's rows exactly (sealed values and expiries to the microsecond), keyless."""
    upgrade(database_url, "0016")
    engine = make_engine(database_url)
    later = datetime.fromtimestamp(NOW + 600.123457, UTC)
    fernet = Cipher([KEY]).encrypt(sealed_name("agent-1", "<PHONE_NUMBER_5551234é>"), "+1 555 123 4567")
    rows = [
        ("agent-1", "<PHONE_NUMBER_5551234é>", fernet, later),
        (
            "agent-1",
            "<EMAIL_ADDRESS_gone>",
            SEALER.seal(sealed_name("agent-1", "<EMAIL_ADDRESS_gone>"), "old"),
            datetime.fromtimestamp(NOW - 1, UTC),
        ),
        (
            "agent-2",
            "<EMAIL_ADDRESS_agent2>",
            SEALER.seal(sealed_name("agent-2", "<EMAIL_ADDRESS_agent2>"), "eve"),
            later,
        ),
    ]
    many = tokens(CHUNK + 7)
    rows += [("agent-1", t, SEALER.seal(sealed_name("agent-1", t), v), later) for t, v in many.items()]
    before = Table("pii_tokens", MetaData(), autoload_with=engine)
    with engine.begin() as connection:
        connection.execute(
            insert(before),
            [
                {"token_key": key_of(a, t), "agent": a, "token": t, "ciphertext": c, "expires_at": e}
                for a, t, c, e in rows
            ],
        )
        original = {
            (r.agent, r.token): (r.token_key, bytes(r.ciphertext), r.expires_at)
            for r in connection.execute(select(before))
        }
    engine.dispose()
    try:
        upgrade(database_url)
        engine = make_engine(database_url)
        clock = Clock()
        behind = engine.dialect.name == "sqlite"  # as the gateway has it: SQLite's in places (0018)
        vault = SqlTokenVault(engine, SEALER, write_behind=behind, clock=clock)
        assert await vault.get_many(
            "agent-1", ["<PHONE_NUMBER_5551234é>", "<EMAIL_ADDRESS_gone>", *many]
        ) == [
            "+1 555 123 4567",
            None,
            *many.values(),
        ]
        assert await vault.get("agent-2", "<EMAIL_ADDRESS_agent2>") == "eve"
        assert await vault.get("agent-1", "<EMAIL_ADDRESS_agent2>") is None
        assert {(a, t): (s, e) for a, t, s, e in slots(engine)}[("agent-1", "<EMAIL_ADDRESS_gone>")][
            1
        ] == int((NOW - 1) * 1_000_000)
        await vault.put("agent-3", "<T_new>", "new", 600)
        await vault.put("agent-1", "<EMAIL_ADDRESS_gone>", "taken over", 600)
        await vault.close()
        engine.dispose()

        downgrade(database_url, "0016")
        engine = make_engine(database_url)
        with engine.connect() as connection:
            back = {
                (r.agent, r.token): (r.token_key, bytes(r.ciphertext), r.expires_at)
                for r in connection.execute(select(before))
            }
        gone = ("agent-1", "<EMAIL_ADDRESS_gone>")
        assert {k: v for k, v in back.items() if k[0] != "agent-3" and k != gone} == {
            k: v for k, v in original.items() if k != gone
        }
        assert SEALER.open(sealed_name(*gone), back[gone][1]) == "taken over"
        assert SEALER.open(sealed_name("agent-3", "<T_new>"), back["agent-3", "<T_new>"][1]) == "new"
        assert len(back) == len(rows) + 1
        engine.dispose()

        upgrade(database_url)  # and up again: the same tokens
        engine = make_engine(database_url)
        vault = SqlTokenVault(engine, SEALER, write_behind=behind, clock=clock)
        assert await vault.get_many("agent-1", [*many][:5]) == [*many.values()][:5]
        assert await vault.get("agent-3", "<T_new>") == "new"
        await vault.close()
    finally:
        engine.dispose()
        upgrade(database_url)
