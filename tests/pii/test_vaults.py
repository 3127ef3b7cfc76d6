"""The gateway's token vaults on real stores: SQLite, PostgreSQL and Redis.

Values are encrypted at rest and bound to their agent and token, scoped per agent, expire,
are never overwritten by another value, and are visible to a second instance at once
(PostgreSQL, Redis) or to the next call on the same instance (SQLite's write-behind).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis
from sqlalchemy import Engine, MetaData, Table, create_engine, insert, select

from broker.pii import Masker
from broker.pii.front import TokenConflict
from broker.pii.issuing import TOKEN_BATCH
from broker.pii.keys import sealed_name
from broker.pii.operators import agent_mac, token_for
from broker.pii.redis_vault import RedisTokenVault, key
from broker.pii.sealing import TokenSealer
from broker.pii.sql_keys import reference_keys
from broker.pii.sql_vault import SqlTokenVault
from broker.secrets.keys import Cipher, generate_key
from broker.store.db import make_engine
from broker.store.migrate import downgrade, upgrade
from policies.masking import MaskingPolicy
from tests.pii.vault_tables import put_row, stored

KEY = generate_key()
CIPHER = TokenSealer([KEY])
TOKEN = "<EMAIL_ADDRESS_0000aaaa>"
EMAIL = "bob.tester@example.com"
SUPPORT = MaskingPolicy.model_validate(
    {"entities": {"EMAIL_ADDRESS": "token"}, "resolve_tokens_for": ["mail.send"]}
)


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    upgrade(database_url)
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


def key_of(agent: str, token: str) -> int:
    return reference_keys([agent], [token])[0]


def _in(seconds: float) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)


@pytest.mark.parametrize("write_behind", [True, False], ids=["write-behind", "synchronous"])
async def test_sql_vault_scopes_encrypts_and_expires(engine: Engine, write_behind: bool) -> None:
    clock = Clock()
    vault = SqlTokenVault(engine, CIPHER, write_behind=write_behind, clock=clock)
    vault.start()
    await vault.put_many("agent-1", {TOKEN: EMAIL}, 120)
    assert await vault.get_many("agent-1", [TOKEN, "<EMAIL_ADDRESS_ffffffff>"]) == [EMAIL, None]
    assert await vault.get("agent-2", TOKEN) is None
    await vault.close()

    [(agent, token, ciphertext)] = stored(engine)
    assert (agent, token) == ("agent-1", TOKEN)
    assert EMAIL.encode() not in ciphertext and b"example" not in ciphertext

    restarted = SqlTokenVault(engine, CIPHER, write_behind=write_behind, clock=clock)
    assert await restarted.get("agent-1", TOKEN) == EMAIL
    assert await restarted.get("agent-2", TOKEN) is None
    clock.now += 121
    assert await restarted.get("agent-1", TOKEN) is None  # expired: the memory front asks again
    assert await restarted.purge() == 1 and stored(engine) == []


async def test_a_sqlite_lookup_never_waits_for_a_connection_on_the_event_loop(tmp_path: Path) -> None:
    """A small lookup on SQLite reads on the event loop only while the pool has a connection
    idle; when all are out (in other threads) it waits for one in a worker thread."""
    url = f"sqlite:///{tmp_path / 'vault.db'}"
    upgrade(url)
    engine = create_engine(
        url, connect_args={"check_same_thread": False}, pool_size=1, max_overflow=0, pool_timeout=10
    )
    await SqlTokenVault(engine, CIPHER, write_behind=False).put("agent-1", TOKEN, EMAIL, 120)
    fresh = SqlTokenVault(engine, CIPHER, write_behind=False)  # nothing in its memory front
    held = engine.connect()  # the pool's only connection, out
    try:
        lookup = asyncio.create_task(fresh.get("agent-1", TOKEN))
        for _ in range(20):  # the loop goes on meanwhile
            await asyncio.sleep(0.01)
        assert not lookup.done()
    finally:
        held.close()
    assert await lookup == EMAIL
    assert await fresh.get("agent-1", "<EMAIL_ADDRESS_ffffffff>") is None  # idle again: read on the loop
    engine.dispose()


async def test_a_sqlite_lookup_on_the_event_loop_sees_what_was_written_since(tmp_path: Path) -> None:
    """The vault's reader connection, kept open between lookups, holds no old snapshot."""
    url = f"sqlite:///{tmp_path / 'vault.db'}"
    upgrade(url)
    engine = make_engine(url)
    vault = SqlTokenVault(engine, CIPHER, write_behind=True)
    written = {
        TOKEN: EMAIL,
        "<EMAIL_ADDRESS_0badc0de>": "b@example.org",
        "<EMAIL_ADDRESS_0badf00d>": "c@example.org",
    }
    for token, value in written.items():  # the first read in a thread, the next ones on the loop
        await vault.put("agent-1", token, value, 120)
        assert await vault.flush()  # written, not kept in memory: the lookup reads the table
        assert await vault.get("agent-1", token) == value
    await vault.close()
    engine.dispose()


async def test_a_ciphertext_copied_to_another_agent_does_not_decrypt(engine: Engine) -> None:
    vault = SqlTokenVault(engine, CIPHER, write_behind=False)
    await vault.put("agent-1", TOKEN, EMAIL, 120)
    ((_, _, sealed),) = stored(engine)
    with engine.begin() as connection:
        put_row(connection, key_of("agent-2", TOKEN), "agent-2", TOKEN, sealed, _in(120).timestamp())
    assert await SqlTokenVault(engine, CIPHER, write_behind=False).get("agent-2", TOKEN) is None
    other_key = SqlTokenVault(engine, TokenSealer([generate_key()]), write_behind=False)
    assert await other_key.get("agent-1", TOKEN) is None


async def test_rows_sealed_by_the_fernet_vault_still_open_and_rotation_works(engine: Engine) -> None:
    with engine.begin() as connection:  # a row as the vault wrote it before AES-GCM
        sealed = Cipher([KEY]).encrypt(sealed_name("agent-1", TOKEN), EMAIL)
        put_row(connection, key_of("agent-1", TOKEN), "agent-1", TOKEN, sealed, _in(120).timestamp())
    assert await SqlTokenVault(engine, CIPHER, write_behind=False).get("agent-1", TOKEN) == EMAIL
    assert (
        await SqlTokenVault(engine, TokenSealer([generate_key()]), write_behind=False).get("agent-1", TOKEN)
        is None
    )
    other = "<EMAIL_ADDRESS_0000bbbb>"
    await SqlTokenVault(engine, CIPHER, write_behind=False).put("agent-1", other, "eve@example.com", 120)
    rotated = TokenSealer([generate_key(), KEY])  # a new key first, the old one after it
    assert await SqlTokenVault(engine, rotated, write_behind=False).get_many("agent-1", [TOKEN, other]) == [
        EMAIL,
        "eve@example.com",
    ]


async def writing_behind_one_token(engine: Engine) -> SqlTokenVault:
    """A started write-behind vault whose task waits for work, with one token pending."""
    vault = SqlTokenVault(engine, CIPHER, write_behind=True, purge_seconds=3600)
    vault.start()
    for _ in range(3):
        await asyncio.sleep(0)  # the task now waits for work
    await vault.put_many("agent-1", {TOKEN: EMAIL}, 600)
    return vault


async def test_closing_right_after_a_write_stores_it_and_returns(engine: Engine) -> None:
    """A token written just before shutdown wakes the background task in the same loop turn as
    close() cancels it. On Python 3.11 asyncio.wait_for swallowed that cancel and close() then
    hung for purge_seconds (an hour here) instead of writing the token and returning."""
    vault = await writing_behind_one_token(engine)
    closing = asyncio.create_task(vault.close())
    await asyncio.wait({closing}, timeout=30)  # returns at once when close() works
    assert closing.done(), "close() hung: the background task did not take the cancel"
    assert [(agent, token) for agent, token, _ in stored(engine)] == [("agent-1", TOKEN)]


async def test_a_cancel_of_whoever_runs_close_reaches_it(tmp_path: Path) -> None:
    """close() waits for the vault's own task to take its cancel; a cancel of the task running
    close() meanwhile (a shutdown with a deadline) ends that task cancelled. close() swallowed
    it with the task's own (`suppress(CancelledError)` around `await task`) and went on."""
    url = f"sqlite:///{tmp_path / 'vault.db'}"
    upgrade(url)
    engine = make_engine(url)
    try:
        vault = await writing_behind_one_token(engine)
        closing = asyncio.create_task(vault.close())
        await asyncio.sleep(0)  # close() has cancelled the vault's task and waits for it
        assert not closing.done()
        closing.cancel()
        await asyncio.wait({closing})
        assert closing.cancelled()
        await vault.close()  # a later close() still writes what is pending
        assert [(agent, token) for agent, token, _ in stored(engine)] == [("agent-1", TOKEN)]
    finally:
        engine.dispose()


async def test_write_behind_resolves_at_once_and_stores_in_batches(engine: Engine) -> None:
    vault = SqlTokenVault(engine, CIPHER, write_behind=True, flush_seconds=30)
    vault.start()
    try:
        await vault.put_many(
            "agent-1", {f"<EMAIL_ADDRESS_{i:08x}>": f"user{i}@example.com" for i in range(300)}, 600
        )
        assert await vault.get("agent-1", "<EMAIL_ADDRESS_0000012b>") == "user299@example.com"
        assert stored(engine) == []  # nothing written on the call path
        assert await vault.flush()
        assert len(stored(engine)) == 300
        # written: read back from the table now, and held against another value
        assert await vault.get_many("agent-1", ["<EMAIL_ADDRESS_00000007>", "<EMAIL_ADDRESS_0000012c>"]) == [
            "user7@example.com",
            None,
        ]
        assert await vault.claim_many("agent-1", {"<EMAIL_ADDRESS_00000008>": "x@example.com"}, 600) == {
            "<EMAIL_ADDRESS_00000008>"
        }
    finally:
        await vault.close()


async def test_two_instances_on_one_database_never_swap_a_value(engine: Engine) -> None:
    clock = Clock()
    first = SqlTokenVault(engine, CIPHER, write_behind=False, clock=clock)
    second = SqlTokenVault(engine, CIPHER, write_behind=False, clock=clock)
    await first.put("agent-1", TOKEN, EMAIL, 120)
    assert await second.get("agent-1", TOKEN) == EMAIL  # written before put returned
    with pytest.raises(TokenConflict):
        await second.put("agent-1", TOKEN, "eve@example.com", 120)
    assert await second.get("agent-1", TOKEN) == EMAIL

    clock.now += 100
    await second.put("agent-1", TOKEN, EMAIL, 120)  # the same value: its life is extended
    clock.now += 100
    assert await SqlTokenVault(engine, CIPHER, write_behind=False, clock=clock).get("agent-1", TOKEN) == EMAIL

    clock.now += 200  # expired: the id may now hold another value
    await first.put("agent-1", TOKEN, "eve@example.com", 120)
    assert await second.get("agent-1", TOKEN) == "eve@example.com"


async def test_an_unreadable_row_is_taken_over(engine: Engine) -> None:
    await SqlTokenVault(engine, TokenSealer([generate_key()]), write_behind=False).put(
        "agent-1", TOKEN, EMAIL, 120
    )
    vault = SqlTokenVault(engine, CIPHER, write_behind=False)
    assert await vault.get("agent-1", TOKEN) is None
    await vault.put("agent-1", TOKEN, "eve@example.com", 120)
    assert await SqlTokenVault(engine, CIPHER, write_behind=False).get("agent-1", TOKEN) == "eve@example.com"


@pytest.mark.parametrize("write_behind", [True, False], ids=["write-behind", "synchronous"])
async def test_a_row_of_another_token_under_the_same_key_holds_it(engine: Engine, write_behind: bool) -> None:
    """Rows are keyed by a 64-bit hash of (agent, token). Should another agent's or token's live
    row hold a token's key, that token is never read from it and never written over it: it is
    held, as by another value; once that row expires, the token takes it over. (No two real
    pairs are known to share a key: these rows are put under another pair's key by hand.)"""
    clock = Clock()
    other = "<EMAIL_ADDRESS_0000bbbb>"
    with engine.begin() as connection:
        for agent, token, holding in (("agent-2", TOKEN, "agent-1"), ("agent-1", other, "agent-3")):
            put_row(  # agent-2's TOKEN under agent-1's key; agent-1's other under agent-3's
                connection,
                key_of(holding, TOKEN),
                agent,
                token,
                CIPHER.seal(sealed_name(agent, token), "eve@example.com"),
                clock.now + 60,
                placed=write_behind and engine.dialect.name == "sqlite",
            )
    vault = SqlTokenVault(engine, CIPHER, write_behind=write_behind, clock=clock)
    assert await vault.get("agent-1", TOKEN) is None
    assert await vault.get("agent-3", TOKEN) is None
    if write_behind:
        await vault.put_many("agent-1", {TOKEN: EMAIL}, 600)
        assert await vault.flush()  # refused in the database (and logged)
    else:
        with pytest.raises(TokenConflict):
            await vault.put("agent-1", TOKEN, EMAIL, 600)
    assert await vault.claim_many("agent-3", {TOKEN: EMAIL}, 600) == (set() if write_behind else {TOKEN})
    await vault.close()
    assert sorted((agent, token) for agent, token, _ in stored(engine)) == [
        ("agent-1", other),
        ("agent-2", TOKEN),
    ]
    restarted = SqlTokenVault(engine, CIPHER, write_behind=write_behind, clock=clock)
    assert await restarted.get("agent-1", TOKEN) is None
    assert await restarted.get("agent-3", TOKEN) is None

    clock.now += 120  # both rows expired: their keys are free
    await restarted.put("agent-1", TOKEN, EMAIL, 600)
    await restarted.put("agent-3", TOKEN, "bob@example.com", 600)
    await restarted.close()
    assert sorted((agent, token) for agent, token, _ in stored(engine)) == [
        ("agent-1", TOKEN),
        ("agent-3", TOKEN),
    ]
    fresh = SqlTokenVault(engine, CIPHER, write_behind=write_behind, clock=clock)
    assert await fresh.get("agent-1", TOKEN) == EMAIL
    assert await fresh.get("agent-3", TOKEN) == "bob@example.com"
    assert await fresh.get("agent-2", TOKEN) is None
    await fresh.close()


async def test_tokens_stored_before_the_hashed_key_resolve_after_it(database_url: str) -> None:
    """Migration 0016 keys every row by its hash and keeps it: tokens issued before, sealed with
    AES-GCM or Fernet, resolve after; held ids stay held; expired rows stay expired."""
    upgrade(database_url, "0015")
    engine = make_engine(database_url)
    clock = Clock()
    later = datetime.fromtimestamp(clock.now + 600, UTC)
    rows = [
        ("agent-1", TOKEN, CIPHER.seal(sealed_name("agent-1", TOKEN), EMAIL), later),
        ("agent-2", TOKEN, CIPHER.seal(sealed_name("agent-2", TOKEN), "eve@example.com"), later),
        (
            "agent-1",
            "<PHONE_NUMBER_5551234é>",
            Cipher([KEY]).encrypt(sealed_name("agent-1", "<PHONE_NUMBER_5551234é>"), "+1 555 123 4567"),
            later,
        ),
        (
            "agent-1",
            "<EMAIL_ADDRESS_0000bbbb>",
            CIPHER.seal(sealed_name("agent-1", "<EMAIL_ADDRESS_0000bbbb>"), "old@example.com"),
            datetime.fromtimestamp(clock.now - 1, UTC),
        ),
    ]
    rows += [
        (
            "agent-1",
            f"<EMAIL_ADDRESS_{n:08x}>",
            CIPHER.seal(sealed_name("agent-1", f"<EMAIL_ADDRESS_{n:08x}>"), f"user{n}@example.com"),
            later,
        )
        for n in range(12_000)  # more than one batch of the copy
    ]
    before = Table("pii_tokens", MetaData(), autoload_with=engine)
    with engine.begin() as connection:  # as the vault wrote them: by (agent, token)
        connection.execute(
            insert(before),
            [{"agent": a, "token": t, "ciphertext": c, "expires_at": e} for a, t, c, e in rows],
        )
    engine.dispose()
    upgrade(database_url)
    engine = make_engine(database_url)
    try:
        vault = SqlTokenVault(engine, CIPHER, write_behind=engine.dialect.name == "sqlite", clock=clock)
        assert await vault.get_many(
            "agent-1", [TOKEN, "<PHONE_NUMBER_5551234é>", "<EMAIL_ADDRESS_0000bbbb>"]
        ) == [
            EMAIL,
            "+1 555 123 4567",
            None,
        ]
        assert await vault.get("agent-2", TOKEN) == "eve@example.com"
        assert await vault.get("agent-3", TOKEN) is None
        many = [f"<EMAIL_ADDRESS_{n:08x}>" for n in range(12_000)]
        assert await vault.get_many("agent-1", many) == [f"user{n}@example.com" for n in range(12_000)]
        assert await vault.claim_many("agent-2", {TOKEN: EMAIL}, 600) == {TOKEN}  # held: another value
        await vault.put("agent-1", "<EMAIL_ADDRESS_0000bbbb>", "new@example.com", 600)  # expired: taken over
        await vault.close()
        assert len(stored(engine)) == len(rows)
        engine.dispose()
        downgrade(database_url, "0015")  # and back: the same rows, by (agent, token)
        with engine.connect() as connection:
            back = {(a, t) for a, t, _, _ in connection.execute(select(before))}
        assert back == {(a, t) for a, t, _, _ in rows}
    finally:
        engine.dispose()
        upgrade(database_url)


async def test_tokens_issued_on_one_instance_resolve_on_another(engine: Engine) -> None:
    """PostgreSQL (and SQLite written synchronously): the next call may land on any instance."""
    salt = b"a-salt-shared-by-instances"
    one = Masker(SUPPORT, salt, SqlTokenVault(engine, CIPHER, write_behind=False))
    two = Masker(SUPPORT, salt, SqlTokenVault(engine, CIPHER, write_behind=False))
    masked, counts = await one.mask_json("agent-1", {"email": EMAIL})
    assert counts == {"EMAIL_ADDRESS": 1} and masked["email"].startswith("<EMAIL_ADDRESS_")
    resolved = await two.resolve_arguments("agent-1", "mail.send", {"to": masked["email"]})
    assert resolved == {"to": EMAIL}
    again, _ = await two.mask_json("agent-1", {"email": EMAIL})
    assert again == masked


async def test_redis_vault(redis: Redis) -> None:
    vault = RedisTokenVault(redis, CIPHER)
    await vault.put_many("agent-1", {TOKEN: EMAIL}, 120)
    raw = await redis.get(key("agent-1", TOKEN))
    assert raw is not None and EMAIL.encode() not in raw
    assert 119_000 < await redis.pttl(key("agent-1", TOKEN)) <= 120_000  # the token's TTL, native

    other = RedisTokenVault(redis, CIPHER)  # another instance: nothing in its memory
    assert await other.get_many("agent-1", [TOKEN, "<EMAIL_ADDRESS_ffffffff>"]) == [EMAIL, None]
    assert await other.get("agent-2", TOKEN) is None
    await redis.set(key("agent-2", TOKEN), raw)  # a ciphertext copied under another agent
    assert await other.get("agent-2", TOKEN) is None
    assert await RedisTokenVault(redis, TokenSealer([generate_key()])).get("agent-1", TOKEN) is None

    with pytest.raises(TokenConflict):
        await other.put("agent-1", TOKEN, "eve@example.com", 120)
    assert await RedisTokenVault(redis, CIPHER).get("agent-1", TOKEN) == EMAIL
    await other.put("agent-1", TOKEN, EMAIL, 600)  # the same value: its life is extended
    assert await redis.pttl(key("agent-1", TOKEN)) > 590_000


async def test_redis_tokens_expire(redis: Redis) -> None:
    vault = RedisTokenVault(redis, CIPHER)
    await vault.put("agent-1", TOKEN, EMAIL, 0.2)
    assert await vault.get("agent-1", TOKEN) == EMAIL
    await asyncio.sleep(0.3)
    assert await vault.get("agent-1", TOKEN) is None
    assert await redis.exists(key("agent-1", TOKEN)) == 0


async def test_redis_tokens_resolve_on_another_instance(redis: Redis) -> None:
    salt = b"a-salt-shared-by-instances"
    one = Masker(SUPPORT, salt, RedisTokenVault(redis, CIPHER))
    two = Masker(SUPPORT, salt, RedisTokenVault(redis, CIPHER))
    masked, _ = await one.mask_text("agent-1", f"write to {EMAIL}")
    token = masked.removeprefix("write to ")
    assert await two.resolve_arguments("agent-1", "mail.send", {"to": token}) == {"to": EMAIL}


async def _claims_alike(
    vault: SqlTokenVault | RedisTokenVault, fresh: Callable[[], Any], clock: Clock
) -> None:
    """A claim stores free ids, extends the same value, and names the ids holding another value."""
    other = "<EMAIL_ADDRESS_0000bbbb>"
    assert await vault.claim_many("agent-1", {TOKEN: EMAIL}, 120) == set()
    if isinstance(vault, SqlTokenVault):
        assert await vault.flush()
    second = fresh()  # another instance, or a restart: nothing in its memory
    assert await second.claim_many("agent-1", {TOKEN: "eve@example.com", other: "eve@example.com"}, 120) == {
        TOKEN
    }
    assert await second.claim_many("agent-2", {TOKEN: "eve@example.com"}, 120) == set()  # per agent
    if isinstance(second, SqlTokenVault):
        assert await second.flush()
    assert await fresh().get_many("agent-1", [TOKEN, other]) == [EMAIL, "eve@example.com"]
    assert await fresh().get("agent-2", TOKEN) == "eve@example.com"
    clock.now += 100
    assert await second.claim_many("agent-1", {TOKEN: EMAIL}, 600) == set()  # the same value: lives longer
    if isinstance(second, SqlTokenVault):
        assert await second.flush()
        clock.now += 100
        assert await fresh().get("agent-1", TOKEN) == EMAIL


@pytest.mark.parametrize("write_behind", [True, False], ids=["write-behind", "synchronous"])
async def test_sql_claims(engine: Engine, write_behind: bool) -> None:
    clock = Clock()
    made: list[SqlTokenVault] = []

    def fresh() -> SqlTokenVault:
        made.append(SqlTokenVault(engine, CIPHER, write_behind=write_behind, clock=clock))
        return made[-1]

    await _claims_alike(fresh(), fresh, clock)
    for vault in made:
        await vault.close()


async def test_redis_claims(redis: Redis) -> None:
    clock = Clock()  # only the memory front's: Redis keeps its own time
    vault = RedisTokenVault(redis, CIPHER, clock=clock)
    await _claims_alike(vault, lambda: RedisTokenVault(redis, CIPHER, clock=clock), clock)
    assert await redis.pttl(key("agent-1", TOKEN)) > 590_000  # extended from the first claim's 120 s


async def test_redis_claim_takes_over_an_unreadable_value(redis: Redis) -> None:
    await RedisTokenVault(redis, TokenSealer([generate_key()])).put("agent-1", TOKEN, EMAIL, 120)
    vault = RedisTokenVault(redis, CIPHER)
    assert await vault.claim_many("agent-1", {TOKEN: "eve@example.com"}, 120) == set()
    assert await RedisTokenVault(redis, CIPHER).get("agent-1", TOKEN) == "eve@example.com"


async def _big_result_with_a_taken_id(vault: SqlTokenVault | RedisTokenVault) -> None:
    """A result of more tokens than one batch (TOKEN_BATCH), one of whose ids holds another
    value in the vault: that one is lengthened, every other is stored as first proposed."""
    salt = b"a-salt-shared-by-instances"
    mac = agent_mac(salt, "agent-1")
    emails = [f"user{i}@example.com" for i in range(TOKEN_BATCH + 500)]
    taken = token_for(mac, "EMAIL_ADDRESS", emails[2100])
    await vault.put("agent-1", taken, "somebody.else@example.com", 600)
    masker = Masker(SUPPORT, salt, vault)
    masked, counts = await masker.mask_json("agent-1", {"rows": [{"email": e} for e in emails]})
    assert counts == {"EMAIL_ADDRESS": len(emails)}
    tokens = [row["email"] for row in masked["rows"]]
    assert tokens[2100] == token_for(mac, "EMAIL_ADDRESS", emails[2100], 12)
    assert tokens[:5] == [token_for(mac, "EMAIL_ADDRESS", e) for e in emails[:5]]
    resolved = await masker.resolve_arguments("agent-1", "mail.send", {"to": tokens})
    assert resolved == {"to": emails}
    assert await masker.resolve_arguments("agent-1", "mail.send", {"to": taken}) == {
        "to": "somebody.else@example.com"
    }


@pytest.mark.parametrize("write_behind", [True, False], ids=["write-behind", "synchronous"])
async def test_a_taken_id_is_lengthened_through_the_sql_vault(engine: Engine, write_behind: bool) -> None:
    vault = SqlTokenVault(engine, CIPHER, write_behind=write_behind)
    vault.start()
    await vault.flush()
    try:
        await _big_result_with_a_taken_id(vault)
        assert await vault.flush()
        assert len(stored(engine)) == TOKEN_BATCH + 500 + 1
    finally:
        await vault.close()


async def test_a_taken_id_is_lengthened_through_the_redis_vault(redis: Redis) -> None:
    await _big_result_with_a_taken_id(RedisTokenVault(redis, CIPHER))
    assert len(await redis.keys(f"{key('agent-1', '')}*")) == TOKEN_BATCH + 500 + 1


async def test_one_flush_extends_refreshes_of_several_agents_and_keeps_held_ids(engine: Engine) -> None:
    """A write-behind batch holding live ids of two agents: the same value lives longer, another
    value leaves the stored one as it is, and a free id in the same batch is written."""
    clock = Clock()
    first = SqlTokenVault(engine, CIPHER, write_behind=True, clock=clock)
    await first.put_many("agent-1", {TOKEN: EMAIL}, 120)
    await first.put_many("agent-2", {TOKEN: EMAIL, "<EMAIL_ADDRESS_0000bbbb>": "bob@example.com"}, 120)
    assert await first.flush()
    clock.now += 100
    restarted = SqlTokenVault(engine, CIPHER, write_behind=True, clock=clock)
    await restarted.put_many("agent-1", {TOKEN: EMAIL, "<EMAIL_ADDRESS_0000cccc>": "carol@example.com"}, 600)
    await restarted.put_many("agent-2", {TOKEN: EMAIL, "<EMAIL_ADDRESS_0000bbbb>": "eve@example.com"}, 600)
    assert await restarted.flush()
    await restarted.close()
    clock.now += 100
    later = SqlTokenVault(engine, CIPHER, write_behind=True, clock=clock)
    assert await later.get_many("agent-1", [TOKEN, "<EMAIL_ADDRESS_0000cccc>"]) == [
        EMAIL,
        "carol@example.com",
    ]
    assert await later.get_many("agent-2", [TOKEN, "<EMAIL_ADDRESS_0000bbbb>"]) == [EMAIL, None]  # expired


async def test_a_flush_takes_over_expired_ids_among_new_and_live_ones(engine: Engine) -> None:
    """Ids whose rows expired hold another value now; a live id keeps its own; new ids go in."""
    clock = Clock()
    first = SqlTokenVault(engine, CIPHER, write_behind=True, clock=clock)
    old = {f"<EMAIL_ADDRESS_0000a{n:03x}>": f"old{n}@example.com" for n in range(5)}
    await first.put_many("agent-1", old, 60)
    await first.put_many("agent-1", {TOKEN: EMAIL}, 600)
    await first.close()
    clock.now += 120
    second = SqlTokenVault(engine, CIPHER, write_behind=True, clock=clock)
    new = {token: value.replace("old", "new") for token, value in old.items()}
    fresh = {f"<EMAIL_ADDRESS_0000b{n:03x}>": f"fresh{n}@example.com" for n in range(5)}
    assert await second.claim_many("agent-1", new | fresh | {TOKEN: "eve@example.com"}, 600) == {TOKEN}
    await second.close()
    later = SqlTokenVault(engine, CIPHER, write_behind=True, clock=clock)
    everything = new | fresh | {TOKEN: EMAIL}
    assert await later.get_many("agent-1", list(everything)) == list(everything.values())


async def test_a_refused_flush_keeps_its_tokens_pending_and_resolvable(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'vault.db'}"
    engine = make_engine(url)  # no tables yet: every write fails
    vault = SqlTokenVault(engine, CIPHER, write_behind=True, cache_entries=1)
    try:
        await vault.put_many("agent-1", {TOKEN: EMAIL, "<EMAIL_ADDRESS_0000bbbb>": "bob@example.com"}, 600)
        assert not await vault.flush()
        assert await vault.get_many("agent-1", [TOKEN, "<EMAIL_ADDRESS_0000bbbb>"]) == [
            EMAIL,
            "bob@example.com",
        ]
        upgrade(url)
        assert await vault.flush()
        assert sorted(token for _, token, _ in stored(engine)) == [
            "<EMAIL_ADDRESS_0000aaaa>",
            "<EMAIL_ADDRESS_0000bbbb>",
        ]
    finally:
        await vault.close()
        engine.dispose()


@pytest.mark.filterwarnings("error::sqlalchemy.exc.SAWarning")
async def test_closing_while_a_flush_writes_stores_every_token(engine: Engine) -> None:
    """A cancel (shutdown) reaches a flush while its worker thread writes; the thread goes on.
    close() must neither lose that batch nor write on the same connection at the same time."""
    vault = SqlTokenVault(engine, CIPHER, write_behind=True, flush_seconds=3600)
    tokens = {f"<EMAIL_ADDRESS_{i:08x}>": f"user{i}@example.com" for i in range(20_000)}
    await vault.put_many("agent-1", tokens, 600)
    flushing = asyncio.create_task(vault.flush())
    for _ in range(3):
        await asyncio.sleep(0)  # the flush is now in its worker thread
    flushing.cancel()
    await vault.put_many("agent-1", {TOKEN: EMAIL}, 600)
    await vault.close()
    assert len(stored(engine)) == len(tokens) + 1


ODD = "ab\ud800cd\udfff"
"""A value holding lone surrogates (JSON's "\\ud800", which any upstream can send)."""


@pytest.mark.parametrize("write_behind", [True, False], ids=["write-behind", "synchronous"])
async def test_a_value_with_lone_surrogates_is_stored_and_resolves_after_a_restart(
    engine: Engine, write_behind: bool
) -> None:
    vault = SqlTokenVault(engine, CIPHER, write_behind=write_behind)
    vault.start()
    await vault.put_many("agent-1", {TOKEN: ODD, "<PII_00000001>": EMAIL}, 120)
    await vault.close()
    restarted = SqlTokenVault(engine, CIPHER, write_behind=write_behind)
    assert await restarted.get_many("agent-1", [TOKEN, "<PII_00000001>"]) == [ODD, EMAIL]
    await restarted.close()


async def test_a_value_with_lone_surrogates_resolves_on_another_redis_instance(redis: Redis) -> None:
    await RedisTokenVault(redis, CIPHER).put("agent-odd", TOKEN, ODD, 120)
    assert await RedisTokenVault(redis, CIPHER).get("agent-odd", TOKEN) == ODD
