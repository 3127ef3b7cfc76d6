"""Per-user grants benchmark: what a call to a `user_oauth` connector pays for its user's token.

    .venv/bin/python bench/user_grants.py

Times `broker.connections.UserGrants` on SQLite: `access_token` served from memory (the
common case), read from the database and decrypted (first call per user on an instance, or
after a revocation anywhere), and `connect_url` (sealing the connect link a not-yet-connected
user's call answers with; no database write). CPU time of one core, wall time for the
database read; the machine is shared, so read the figures as orders of magnitude.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from broker.connections import Ticket, UserGrants
from broker.connections.tokens import Tokens
from broker.secrets.keys import Cipher, generate_key
from broker.secrets.vault import Vault
from broker.store.db import make_engine, make_sessionmaker
from broker.store.migrate import upgrade
from connectors.auth import UserOAuth

USERS = 2000
CONFIG = UserOAuth(
    type="user_oauth",
    authorization_url="https://crm.example.com/authorize",
    token_url="https://crm.example.com/token",
    client_id="broker",
)


async def timed(label: str, fn: Callable[[int], Awaitable[object]], repeat: int) -> None:
    cpu, wall = time.process_time(), time.perf_counter()
    for n in range(repeat):
        await fn(n)
    cpu_us = (time.process_time() - cpu) / repeat * 1e6
    wall_us = (time.perf_counter() - wall) / repeat * 1e6
    print(f"{label:48} {cpu_us:8.1f} µs CPU {wall_us:8.1f} µs wall")


async def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        url = f"sqlite:///{Path(scratch) / 'bench.db'}"
        upgrade(url)
        sessions = make_sessionmaker(make_engine(url))
        grants = UserGrants(sessions, Vault(sessions, Cipher([generate_key()])), "http://127.0.0.1:8000")
        tickets = [Ticket(f"user-{n}", "bot", "crm") for n in range(USERS)]
        tokens = Tokens(
            "access-" + "x" * 800, "refresh-token", time.time() + 3600, "crm.read", time.time() + 3500
        )
        with sessions.begin() as session:
            for ticket in tickets:
                grants._save(session, ticket, tokens)

        async def token(n: int) -> object:
            return await grants.access_token(tickets[n % USERS], CONFIG, {}, False, 1)

        await timed("access_token, first read (database + decrypt)", token, USERS)
        await timed("access_token, cached", token, USERS * 5)
        await timed(
            "connect_url (a not-yet-connected call)",
            lambda n: _sync(grants.connect_url(tickets[n % USERS])),
            USERS,
        )


async def _sync(value: object) -> object:
    return value


if __name__ == "__main__":
    asyncio.run(main())
