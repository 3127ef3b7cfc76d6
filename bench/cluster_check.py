"""Cluster check: two instances under concurrent load, one upstream failing, one instance restarted.

Run it from the project root (PostgreSQL and Redis on loopback):

    .venv/bin/python bench/cluster_check.py                 # 20 s of load, 16 concurrent clients

What it does: two mock providers (`primary`, `backup`) behind the route `sturdy`, a team
budget that the run exhausts, two `broker serve` instances on one fresh PostgreSQL database and
Redis (db 15), breakers opening after 3 failures for 2 s. Clients alternate between the
instances; a connection refused (the restarting instance) is retried on the other one, as a
load balancer would. After 2 s the primary fails 40 calls with 503; after 5 s instance B gets
SIGTERM (it drains 1 s) and is started again on the same port. At the end it checks:
  - every request got an HTTP answer (none lost);
  - the ledger has a row for every model call answered 200 or 429, and its token sum equals
    the usage the provider reported in the answers the clients received;
  - the budget was not overspent by more than one call's reservation;
  - the primary's breaker opened and is closed again.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
import psycopg
import redis

from bench._llm_setup import PROVIDER_KEY, Server
from bench.scale import ADMIN_URL, ROOT, free_port

BUDGET_TOKENS = 40000
BODY = {"model": "sturdy", "messages": [{"role": "user", "content": "hi [[words=20]]"}], "max_tokens": 30}


def seed(database_url: str, primary: str, backup: str) -> str:
    from broker.llm import services
    from broker.llm.config import LlmDocument
    from broker.services import agents, policies
    from broker.store.db import make_engine, make_sessionmaker
    from broker.store.migrate import upgrade
    from policies import Policy

    upgrade(database_url)
    engine = make_engine(database_url)
    sessions = make_sessionmaker(engine)
    document = {
        "providers": [
            {"name": name, "kind": "openai", "base_url": f"{url}/v1", "api_key_secret": "BENCH_KEY",
             "models": ["mock-small"], "max_retries": 0, "timeout_seconds": 5}
            for name, url in (("primary", primary), ("backup", backup))
        ],
        "models": [{"name": "sturdy", "targets": ["primary/mock-small", "backup/mock-small"]}],
        "budgets": [{"name": "team-day", "team": "load", "period": "day", "tokens": BUDGET_TOKENS}],
    }  # fmt: skip
    with sessions.begin() as session:
        agents.create_agent(session, "loader", team="load")
        key = agents.create_key(session, "loader").key
    with sessions.begin() as session:
        services.apply_document(session, LlmDocument.model_validate(document))
        grant = Policy.model_validate(
            {"name": "l", "agents": ["loader"], "allow": [], "models": {"allow": ["*"]}}
        )
        policies.apply(session, [grant])
    engine.dispose()
    return key


def start(port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    command = [str(ROOT / ".venv/bin/broker"), "serve", "--port", str(port)]
    process = subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the instance on port {port} did not become ready")
        time.sleep(0.1)


async def load(urls: list[str], key: str, seconds: float, concurrency: int) -> dict[str, object]:
    statuses: dict[int, int] = {}
    usage_tokens = 0
    lost = 0
    n = 0
    headers = {"Authorization": f"Bearer {key}"}
    deadline = time.monotonic() + seconds

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal usage_tokens, lost, n
        while time.monotonic() < deadline:
            n += 1
            first = n % 2
            for attempt in range(4):  # the load balancer: on a refused connection, the other instance
                url = urls[(first + attempt) % 2]
                try:
                    response = await client.post(f"{url}/v1/chat/completions", json=BODY, headers=headers)
                except httpx.TransportError:
                    await asyncio.sleep(0.05)
                    continue
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
                if response.status_code == 200:
                    usage_tokens += response.json()["usage"]["total_tokens"]
                break
            else:
                lost += 1

    async with httpx.AsyncClient(timeout=30) as client:
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
    return {"statuses": statuses, "usage_tokens": usage_tokens, "lost": lost}


def main() -> None:
    name = f"broker_check_{uuid.uuid4().hex[:10]}"
    database_url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    redis_url = "redis://127.0.0.1:6379/15"
    redis.Redis.from_url(redis_url).flushdb()
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    workdir = Path(os.environ.get("TMPDIR", "/tmp"))
    primary = Server("primary", "mock", workdir, "--api-key", PROVIDER_KEY)
    backup = Server("backup", "mock", workdir, "--api-key", PROVIDER_KEY)
    processes: list[subprocess.Popen[bytes]] = []
    try:
        key = seed(database_url, primary.url, backup.url)
        env = {
            **os.environ,
            "BROKER_DATABASE_URL": database_url,
            "BROKER_REDIS_URL": redis_url,
            "BROKER_REDIS_CHANNEL": f"broker:check:{uuid.uuid4().hex}",
            "BROKER_LLM_PROVIDER_KEYS": json.dumps({"BENCH_KEY": PROVIDER_KEY}),
            "BROKER_BREAKER_FAILURES": "3",
            "BROKER_BREAKER_OPEN_SECONDS": "2",
            "BROKER_DRAIN_SECONDS": "1",
            "BROKER_LOG_LEVEL": "warning",
        }
        ports = [free_port(), free_port()]
        processes = [start(ports[0], env), start(ports[1], env)]
        urls = [f"http://127.0.0.1:{port}" for port in ports]

        async def run() -> dict[str, object]:
            async def chaos() -> None:
                await asyncio.sleep(2)
                await asyncio.to_thread(
                    httpx.post, f"{primary.url}/mock/fail", json={"status": 503, "times": 40}
                )
                await asyncio.sleep(3)
                processes[1].send_signal(signal.SIGTERM)
                await asyncio.to_thread(processes[1].wait, 60)
                processes[1] = await asyncio.to_thread(start, ports[1], env)

            task = asyncio.create_task(chaos())
            result = await load(urls, key, 20, 16)
            await task
            return result

        result = asyncio.run(run())
        time.sleep(3)  # the breaker's open period passes; the ledger flushes
        metrics = [httpx.get(f"{url}/metrics").text for url in urls]
        status = httpx.get(f"{urls[0]}/readyz").json()
        from sqlalchemy import text

        from broker.store.db import make_engine

        engine = make_engine(database_url)
        with engine.connect() as db:
            rows = dict(db.execute(text("SELECT status, count(*) FROM llm_usage GROUP BY status")).all())
            spent = "SELECT coalesce(sum(prompt_tokens + completion_tokens), 0) FROM llm_usage"
            tokens = db.execute(text(spent + " WHERE status = 'ok'")).scalar()
        engine.dispose()
        opened = [
            line
            for page in metrics
            for line in page.splitlines()
            if line.startswith("broker_circuit_breaker_opened_total") and "primary" in line
        ]
        statuses: dict[int, int] = result["statuses"]  # type: ignore[assignment]
        print(f"answers by status: {statuses}; lost: {result['lost']}; readiness: {status['status']}")
        print(f"ledger rows by status: {rows}")
        print(
            f"tokens: ledger {tokens}, reported to clients {result['usage_tokens']} (budget {BUDGET_TOKENS})"
        )
        print(f"primary breaker openings: {opened}")
        checks = {
            "no request lost": result["lost"] == 0,
            "every 200 and 429 in the ledger": rows.get("ok", 0) == statuses.get(200, 0)
            and sum(rows.values()) >= statuses.get(200, 0) + statuses.get(429, 0),
            "metering equals reported usage": tokens == result["usage_tokens"],
            "budget held (within one reservation)": int(tokens) <= BUDGET_TOKENS + 60,
            "breaker opened": any(not line.endswith(" 0.0") for line in opened),
        }
        for label, ok in checks.items():
            print(f"{'PASS' if ok else 'FAIL'}: {label}")
    finally:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                process.wait(30)
        primary.stop()
        backup.stop()
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
