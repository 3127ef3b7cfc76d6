"""Token vault stage benchmark: the gateway's share of a big masked result's tokens, in-process.

Run it from the project root:

    .venv/bin/python bench/vault_stage.py                        # SQLite, PostgreSQL, Redis
    .venv/bin/python bench/vault_stage.py --vaults sqlite --rounds 7
    .venv/bin/python bench/vault_stage.py --tokens 23000 --prefill 100000
    .venv/bin/python bench/vault_stage.py --vaults sqlite --background   # SQLite flushing on its own

What it does: what `Masker._mask_elsewhere` does once a worker process has masked a 5 MB result
(~23,000 tokens, ~4,700 per MB of bench/pii_path.py's CRM records): `TokenIssuer.issue` with the
worker's proposals, new values every round, over a vault already holding `--prefill` tokens of the
same agent. Vaults as the gateway builds them: SQLite writing behind (the tokens written by
`flush`, which the gateway's background task runs), PostgreSQL and Redis writing before the call
returns. With `--background` the SQLite vault's own task writes the tokens, as in the gateway
(a batch gathers while tokens keep coming, up to 1 s: maybe in more than one flush), instead of
the bench calling `flush` once the issue is done; "flush" is then the process CPU from the end of
the issue until the vault has written them all. PostgreSQL gets a scratch database, dropped
afterwards; Redis keys are this run's own agent's, deleted afterwards.

What the numbers mean: CPU milliseconds of the whole process (the event loop and the worker
threads the vault uses) per MB of result, min and median over the rounds: "check" is inside the
vault's `get_many` (is the proposed id free?), "store" inside `put_many`, "claim" inside
`claim_many` (both in one, where the vault has it), "flush" SQLite's
write-behind, "issue" all of `issue` (the check and store included, and the bookkeeping around
them). The issue's goal for the whole gateway side is 40 ms/MB with detection included.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from redis.asyncio import Redis

from bench._setup import scratch_database
from broker.pii.front import TokenConflict
from broker.pii.issuing import TokenIssuer
from broker.pii.operators import agent_mac, token_for
from broker.pii.redis_vault import PREFIX, RedisTokenVault
from broker.pii.sealing import TokenSealer
from broker.pii.sql_vault import SqlTokenVault
from broker.pii.vault import TokenVault
from broker.secrets.keys import generate_key
from broker.store.db import make_engine
from broker.store.migrate import upgrade

TOKENS_PER_MB = 4_700
SALT = b"bench-salt-0123456789"


class Timed:
    """A vault whose `get_many`/`put_many` add their process CPU seconds to `spent`."""

    def __init__(self, vault: Any) -> None:
        self.vault = vault
        self.spent = {"check": 0.0, "store": 0.0, "claim": 0.0}

    async def get(self, agent: str, token: str) -> str | None:
        return (await self.get_many(agent, [token]))[0]

    async def put(self, agent: str, token: str, value: str, ttl: float) -> None:
        await self.put_many(agent, {token: value}, ttl)

    async def get_many(self, agent: str, tokens: Sequence[str]) -> list[str | None]:
        started = time.process_time()
        try:
            return list(await self.vault.get_many(agent, tokens))
        finally:
            self.spent["check"] += time.process_time() - started

    async def put_many(self, agent: str, items: Mapping[str, str], ttl: float) -> None:
        started = time.process_time()
        try:
            await self.vault.put_many(agent, items, ttl)
        finally:
            self.spent["store"] += time.process_time() - started


class TimedClaims(Timed):
    """`Timed` for a vault that checks and stores in one go (`claim_many`)."""

    async def claim_many(self, agent: str, items: Mapping[str, str], ttl: float) -> set[str]:
        started = time.process_time()
        try:
            return set(await self.vault.claim_many(agent, items, ttl))
        finally:
            self.spent["claim"] += time.process_time() - started


def requests(tag: str, count: int) -> list[tuple[str, str]]:
    """CRM-like values to tokenise, half e-mails and half phones, new for each `tag`."""
    half = count // 2
    emails = [("EMAIL_ADDRESS", f"first.last{i}.{tag}@example-{i % 97}.com") for i in range(half)]
    phones = [("PHONE_NUMBER", f"+1 (415) {tag[:3]}-{i:07d}") for i in range(count - half)]
    return emails + phones


async def run_vault(name: str, vault: Any, args: argparse.Namespace) -> dict[str, list[float]]:
    agent = f"bench-vault-{secrets.token_hex(4)}"
    mac = agent_mac(SALT, agent)
    prefill = requests("prefill", args.prefill)
    for first in range(0, len(prefill), 5000):
        chunk = {token_for(mac, *r): r[1] for r in prefill[first : first + 5000]}
        with contextlib.suppress(TokenConflict):  # 8 hex digits: ids collide in 100,000s of tokens
            await vault.put_many(agent, chunk, 3600)
        if isinstance(vault, SqlTokenVault) and vault.write_behind:
            await vault.flush()
    timed = TimedClaims(vault) if hasattr(vault, "claim_many") else Timed(vault)
    keys = ("check", "store", "claim", "flush", "issue", "wall")
    figures: dict[str, list[float]] = {key: [] for key in keys}
    for round_ in range(args.rounds + 1):  # the first round warms up
        issuer = TokenIssuer(timed, SALT, 3600)  # a fresh memo of issued tokens, as for new values
        asked = requests(f"r{round_}x{secrets.token_hex(3)}", args.tokens)
        proposed = {request: token_for(mac, *request) for request in asked}
        timed.spent = {"check": 0.0, "store": 0.0, "claim": 0.0}
        started, wall = time.process_time(), time.perf_counter()
        issued = await issuer.issue(agent, set(proposed), off_loop=True, proposed=proposed)
        issue, wall = time.process_time() - started, time.perf_counter() - wall
        started = time.process_time()
        if isinstance(vault, SqlTokenVault) and vault.write_behind:
            if args.background:
                while vault.unwritten:  # noqa: ASYNC110 (a bench polling; the vault has no event for it)
                    await asyncio.sleep(0.005)
            else:
                await vault.flush()
        flush = time.process_time() - started
        assert len(issued) == len(asked)
        if round_:
            for key, seconds in (*timed.spent.items(), ("flush", flush), ("issue", issue), ("wall", wall)):
                figures[key].append(seconds)
    if isinstance(vault, RedisTokenVault):
        redis: Redis = vault._redis
        async for key in redis.scan_iter(match=f"{PREFIX}{agent}:*", count=5000):
            await redis.delete(key)
    return figures


@contextlib.contextmanager
def vaults(names: list[str], workdir: Path, postgres: str, redis_url: str) -> Iterator[dict[str, Any]]:
    sealer = TokenSealer([generate_key()])
    made: dict[str, Any] = {}
    with contextlib.ExitStack() as stack:
        for name, server, write_behind in (("sqlite", None, True), ("postgresql", postgres, False)):
            if name in names:
                url = stack.enter_context(scratch_database(server, workdir))
                upgrade(url)
                engine = make_engine(url)
                stack.callback(engine.dispose)
                made[name] = SqlTokenVault(engine, sealer, write_behind=write_behind)
        if "redis" in names:
            made["redis"] = RedisTokenVault.from_url(redis_url, sealer)
        yield made


def report(name: str, figures: dict[str, list[float]], megabytes: float) -> None:
    cells = []
    for key in ("check", "store", "claim", "flush", "issue"):
        values = [1000 * v / megabytes for v in figures[key]]
        cells.append(f"{key} {min(values):6.1f} / {statistics.median(values):6.1f}")
    wall = [1000 * v / megabytes for v in figures["wall"]]
    print(f"{name:>10}: " + "   ".join(cells) + f"   wall {min(wall):6.1f} / {statistics.median(wall):6.1f}")


async def main(args: argparse.Namespace) -> None:
    megabytes = args.tokens / TOKENS_PER_MB
    print(
        f"token vault stage: {args.tokens} new tokens a round (~{megabytes:.1f} MB of CRM records), "
        f"{args.prefill} already stored, {args.rounds} rounds; load average {os.getloadavg()[0]:.2f}"
    )
    print("CPU ms per MB of result, min / median")
    with (
        tempfile.TemporaryDirectory(prefix="vault-stage-") as workdir,
        vaults(args.vaults, Path(workdir), args.postgres, args.redis_url) as made,
    ):
        for name in args.vaults:
            vault: TokenVault = made[name]
            if args.background and isinstance(vault, SqlTokenVault) and vault.write_behind:
                vault.start()
            figures = await run_vault(name, vault, args)
            report(name, figures, megabytes)
            close = getattr(vault, "close", None)
            if close is not None:
                await close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--vaults", nargs="*", default=["sqlite", "postgresql", "redis"])
    parser.add_argument("--tokens", type=int, default=23_000)
    parser.add_argument("--prefill", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--background", action="store_true", help="SQLite: the vault's own task flushes, not the bench"
    )
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/5")
    asyncio.run(main(parser.parse_args()))
