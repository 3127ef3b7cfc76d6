"""Set-up for the LLM proxy benchmark: server processes and the seeded database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from sqlalchemy import func, select

SERVE = Path(__file__).with_name("_llm_serve.py")
ROOT = SERVE.parents[1]
PROVIDER_KEY = "sk-bench-provider-key"


class Server:
    """One bench/_llm_serve.py process in its own session (a Ctrl-C reaches only the benchmark)."""

    def __init__(
        self, name: str, role: str, workdir: Path, *args: str, env: dict[str, str] | None = None
    ) -> None:
        self.name = name
        port_file = workdir / f"{name}.port"
        port_file.unlink(missing_ok=True)
        command = [sys.executable, str(SERVE), role, "--port-file", str(port_file), *args]
        environment = {**os.environ, **(env or {})}
        self.process = subprocess.Popen(command, cwd=ROOT, start_new_session=True, env=environment)
        self.pid = self.process.pid
        try:
            self.url = f"http://127.0.0.1:{self._wait_for_port(port_file)}"
            self._wait_healthy()
        except BaseException:
            self.stop()
            raise

    def _wait_for_port(self, port_file: Path, timeout: float = 30.0) -> int:
        deadline = time.monotonic() + timeout
        while not port_file.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} did not start (exit code {self.process.returncode})")
            time.sleep(0.02)
        return int(port_file.read_text())

    def _wait_healthy(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2, trust_env=False).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} did not answer /healthz")
            time.sleep(0.05)

    def signal(self, signum: int) -> None:
        if self.process.poll() is None:
            os.kill(self.pid, signum)

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM (graceful: the gateway drains its ledger), wait; SIGKILL if it hangs."""
        if self.process.poll() is None:
            self.signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        return self.process.returncode


def seed(database_url: str, fast_url: str, slow_url: str, *, limits: bool) -> str:
    """Migrate; providers `fast` and `slow` (the two mocks), agent `bench` with a key and a
    policy granting every model; with `limits`, a budget and a rate limit that never bind."""
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
             "models": ["mock-small"], "max_connections": 512}
            for name, url in (("fast", fast_url), ("slow", slow_url))
        ],
        "prices": [{"model": "mock-small", "input": 0.15, "output": 0.6}],
        "budgets": [{"name": "bench-day", "agent": "bench", "period": "day", "usd": 1e9}] if limits else [],
        "rate_limits": [{"name": "bench", "agent": "bench", "rpm": 10**9, "tpm": 10**12}] if limits else [],
    }  # fmt: skip
    try:
        with sessions.begin() as session:
            agents.create_agent(session, "bench", team="bench")
            key = agents.create_key(session, "bench").key
        with sessions.begin() as session:
            services.apply_document(session, LlmDocument.model_validate(document))
            grant = Policy.model_validate(
                {"name": "bench", "agents": ["bench"], "allow": [], "models": {"allow": ["*"]}}
            )
            policies.apply(session, [grant])
    finally:
        engine.dispose()
    return key


def ledger_rows(database_url: str) -> dict[str, int]:
    """Stored usage rows by status."""
    from broker.store.db import make_engine
    from broker.store.models import LlmUsageRecord

    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            query = select(LlmUsageRecord.status, func.count()).group_by(LlmUsageRecord.status)
            return {status: count for status, count in connection.execute(query)}
    finally:
        engine.dispose()
