"""Set-up for the tool-path benchmark: server processes, a scratch database and its seed."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

SERVE = Path(__file__).with_name("_serve.py")
ROOT = SERVE.parents[1]
MASKING = {
    # What an operator would set for a weather tool: e-mails and phones (none here) as tokens, and
    # the coordinates masked as locations, so MaskPII has work on every result (2 entities).
    "entities": {"EMAIL_ADDRESS": "token", "PHONE_NUMBER": "token"},
    "fields": [{"match": "latitude", "entity": "LOCATION"}, {"match": "longitude", "entity": "LOCATION"}],
}


class Child:
    """One bench/_serve.py process in its own session (a Ctrl-C reaches only the benchmark)."""

    def __init__(self, name: str, workdir: Path, *args: str, start_timeout: float = 30.0) -> None:
        self.name = name
        port_file = workdir / f"{name}.port"
        port_file.unlink(missing_ok=True)
        command = [sys.executable, str(SERVE), name, "--port-file", str(port_file), *args]
        self.process = subprocess.Popen(command, cwd=ROOT, start_new_session=True)
        self.pid = self.process.pid
        try:
            self.url = f"http://127.0.0.1:{self._wait_for_port(port_file, start_timeout)}"
            self._wait_healthy(start_timeout)
        except BaseException:
            self.stop()
            raise

    def _wait_for_port(self, port_file: Path, timeout: float = 30.0) -> int:
        deadline = time.monotonic() + timeout
        while not port_file.exists():
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited during start-up (code {self.process.returncode})")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} did not start within {timeout:g}s")
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
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited during start-up (code {self.process.returncode})")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} did not answer /healthz within {timeout:g}s")
            time.sleep(0.05)

    def signal(self, signum: int) -> None:
        if self.process.poll() is None:
            os.kill(self.pid, signum)

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM (graceful: the gateway flushes its audit queue), wait; SIGKILL if it hangs."""
        if self.process.poll() is None:
            self.signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                print(f"{self.name} did not stop within {timeout:g}s; killing it", file=sys.stderr)
                self.process.kill()
                self.process.wait(5)
        return self.process.returncode


@contextlib.contextmanager
def scratch_database(admin_url: str | None, workdir: Path) -> Iterator[str]:
    """A fresh SQLite file in `workdir`, or a scratch PostgreSQL database dropped afterwards."""
    if admin_url is None:
        yield f"sqlite:///{workdir / 'bench.db'}"
        return
    base = make_url(admin_url)
    if base.get_backend_name() != "postgresql":
        raise SystemExit("--database-url must be a postgresql+psycopg:// URL (SQLite is the default)")
    name = f"tool_broker_bench_{secrets.token_hex(4)}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


SQL_QUERY = {
    "name": "by_city",
    "description": "The ten biggest customers in a city.",
    "sql": "SELECT id, name, city, revenue FROM customers WHERE city = :city ORDER BY revenue DESC LIMIT 10",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


def seed(
    database_url: str, upstream_url: str, *, mcp_url: str | None = None, sqlite_path: Path | None = None
) -> str:
    """Migrate; register the connectors, agent `bench`, its key and a policy; return the key.

    Always the `weather` HTTP connector; with `mcp_url` the federated `fed` (an MCP server,
    registered as an operator does: its tools listed and pinned), with `sqlite_path` the `db`
    SQL connector with the named query `by_city`. The policy masks (see MASKING) and caches
    only `fed.forecast` (for cache hits and misses); every other tool is never cached.
    """
    from broker.services import agents, connectors, policies
    from broker.store.db import make_engine, make_sessionmaker
    from broker.store.migrate import upgrade
    from connectors.mcp import McpConnectorConfig, prepare_mcp
    from policies import MaskingPolicy, Policy

    upgrade(database_url)
    engine = make_engine(database_url)
    sessions = make_sessionmaker(engine)
    tool = {
        "name": "current",
        "description": "Current weather in a city",
        "method": "GET",
        "path": "/v1/current",
        "query": ["city"],
        "input_schema": {
            "type": "object",
            "properties": {"city": {"type": "string", "minLength": 1, "maxLength": 100}},
            "required": ["city"],
            "additionalProperties": False,
        },
    }
    configs: dict[str, tuple[str, dict[str, Any]]] = {
        "weather": (
            "http",
            {
                "kind": "http",
                "name": "weather",
                "base_url": upstream_url,
                "allow_private_network": True,
                "tools": [tool],
            },
        )
    }
    if mcp_url is not None:
        raw = {"kind": "mcp", "name": "fed", "transport": "http", "url": f"{mcp_url}/mcp"}
        raw["max_response_bytes"] = 16 * 1024 * 1024  # the PII bench asks for 5 MB results
        config = McpConnectorConfig.model_validate(raw | {"allow_private_network": True})
        prepared = asyncio.run(prepare_mcp(config))
        configs["fed"] = ("mcp", prepared.model_dump(mode="json"))
    if sqlite_path is not None:
        sql = {"kind": "sql", "name": "db", "url": f"sqlite:///{sqlite_path}", "expose": []}
        configs["db"] = ("sql", sql | {"queries": [SQL_QUERY]})
    # Rules matching one tool merge conservatively (the shortest TTL wins): no `fed.*` rule here.
    cache = {f"{name}.*": {"ttl_seconds": 0} for name in configs if name != "fed"}
    if "fed" in configs:
        cache |= {"fed.forecast": {"ttl_seconds": 3600}, "fed.sized": {"ttl_seconds": 0}}
    try:
        with sessions.begin() as session:
            for name, (kind, config_dict) in configs.items():
                connectors.put_connector(session, name, kind, config_dict, replace=False)
            agents.create_agent(session, "bench")
            key = agents.create_key(session, "bench").key
        with sessions.begin() as session:
            policies.apply(
                session,
                [
                    Policy(
                        name="bench",
                        agents=["bench"],
                        allow=[f"{name}.*" for name in configs],
                        masking=MaskingPolicy.model_validate(MASKING),
                        cache=cache,
                    )
                ],
            )
    finally:
        engine.dispose()
    return key


def pii_figures(gateway_url: str) -> tuple[int, float, dict[str, float]]:
    """From /metrics: calls MaskPII timed, their mean time in ms, and entities masked by type."""
    body = httpx.get(f"{gateway_url}/metrics", timeout=10, trust_env=False).text
    calls, seconds, masked = 0, 0.0, {}
    for line in body.splitlines():
        name, _, value = line.rpartition(" ")
        if name == "broker_pii_mask_duration_seconds_count":
            calls = round(float(value))
        elif name == "broker_pii_mask_duration_seconds_sum":
            seconds = float(value)
        elif name.startswith("broker_pii_masked_total{"):
            masked[name.split('entity="', 1)[1].split('"', 1)[0]] = float(value)
    return calls, seconds / calls * 1000 if calls else float("nan"), masked


def count_audit_records(database_url: str) -> dict[str, int]:
    """Stored audit records by outcome."""
    from broker.store.db import make_engine
    from broker.store.models import AuditRecord

    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            query = select(AuditRecord.outcome, func.count()).group_by(AuditRecord.outcome)
            return {outcome: count for outcome, count in connection.execute(query)}
    finally:
        engine.dispose()


def tool_call_counter(gateway_url: str) -> dict[str, float]:
    """broker_tool_calls_total from /metrics, summed by outcome."""
    body = httpx.get(f"{gateway_url}/metrics", timeout=10, trust_env=False).text
    totals: dict[str, float] = {}
    for line in body.splitlines():
        if line.startswith("broker_tool_calls_total{"):
            labels, value = line.rsplit(" ", 1)
            outcome = labels.split('outcome="', 1)[1].split('"', 1)[0]
            totals[outcome] = totals.get(outcome, 0.0) + float(value)
    return totals
