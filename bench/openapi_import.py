"""OpenAPI import benchmark: time to import generated specs the size of GitHub's and Stripe's,
and how long the gateway's event loop stalls meanwhile.

Run it from the project root:

    .venv/bin/python bench/openapi_import.py
    .venv/bin/python bench/openapi_import.py --specs github --repeat 3

Specs (tests/connectors/specgen.py): `github` ~1,000 operations, JSON bodies, header and path
parameters, shared `$ref` schemas, ~10 MB; `stripe` ~600 operations, every body form-encoded,
~6 MB; `flat` 20,000 tiny operations, which the default BROKER_OPENAPI_MAX_OPERATIONS refuses.

For each spec:
  - `convert`: parse + import in this process, no server (connectors.http.openapi);
  - `admin`: POST /admin/connectors to a real gateway (uvicorn on loopback in a process of its
    own, wrapped so a loop-lag probe runs on its event loop), from request to answer;
  - `apply`: the same connector in a combined document, POST /admin/apply (`broker apply`);
  - `stall`: the longest the gateway's event loop went without running the probe (a task
    that sleeps 5 ms and records how late it woke), and the slowest /healthz a client polling
    every 20 ms saw, during the admin import.

The machine is shared and noisy: the load average at start is printed with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
import uvicorn
from pydantic import SecretStr
from starlette.types import ASGIApp, Receive, Scope, Send

from broker.app import create_app
from broker.secrets.keys import generate_key
from broker.settings import Settings
from connectors.http.openapi import OpenAPIConnectorConfig, import_inline, parse_document
from tests.conftest import free_port
from tests.connectors import specgen

TOKEN = "bench-admin-token-0123456789"
SPECS = {
    "github": lambda: specgen.github_like(1000, prose=20),
    "stripe": lambda: specgen.stripe_like(600),
    "flat": lambda: specgen.flat(20_000),
}


class LagProbe:
    """ASGI wrapper that starts, on the server's own loop, a task measuring how late it wakes."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.worst = 0.0
        self._task: asyncio.Task[None] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._task is None and scope["type"] in ("http", "lifespan"):
            self._task = asyncio.get_running_loop().create_task(self._probe())
        if scope["type"] == "http" and scope["path"] == "/_lag":  # read and reset the worst lag
            worst, self.worst = self.worst, 0.0
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": str(worst).encode()})
            return
        await self.app(scope, receive, send)

    async def _probe(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            await asyncio.sleep(0.005)
            self.worst = max(self.worst, loop.time() - started - 0.005)


def convert(document: dict[str, Any]) -> tuple[float, int, str]:
    body = json.dumps(document).encode()
    started = time.perf_counter()
    try:
        config = OpenAPIConnectorConfig.model_validate(
            {"kind": "openapi", "name": "x", "spec": parse_document(body)}
        )
        tools = len(import_inline(config).config.tools)
        outcome = f"{tools} tools"
    except Exception as exc:  # a refused document is a result here
        outcome = f"refused: {str(exc)[:90]}"
    return time.perf_counter() - started, len(body), outcome


def admin_import(url: str, name: str, document: dict[str, Any], route: str = "connectors") -> dict[str, Any]:
    connector = {"kind": "openapi", "name": name, "spec": document}
    body = json.dumps(connector if route == "connectors" else {"connectors": [connector]}).encode()
    worst_healthz = 0.0
    done = threading.Event()
    result: dict[str, Any] = {}

    def post() -> None:
        started = time.perf_counter()
        response = httpx.post(
            f"{url}/admin/{route}",
            content=body,
            headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
            timeout=600,
        )
        result["seconds"] = time.perf_counter() - started
        result["status"] = response.status_code
        done.set()

    httpx.get(f"{url}/_lag")  # reset
    thread = threading.Thread(target=post)
    thread.start()
    with httpx.Client(base_url=url, timeout=60) as client:
        while not done.is_set():
            started = time.perf_counter()
            client.get("/healthz")
            worst_healthz = max(worst_healthz, time.perf_counter() - started)
            time.sleep(0.02)
    thread.join()
    stall = float(httpx.get(f"{url}/_lag").text)
    return {**result, "loop_stall": stall, "healthz_worst": worst_healthz}


def serve(port: int, database: str) -> None:
    """The gateway process: the app behind the lag probe."""
    settings = Settings(
        database_url=f"sqlite:///{database}",
        admin_token=SecretStr(TOKEN),
        secret_keys=SecretStr(generate_key()),
        port=port,
    )
    uvicorn.run(LagProbe(create_app(settings)), host="127.0.0.1", port=port, log_level="warning")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--specs", default="github,stripe,flat", help="comma-separated: github,stripe,flat")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--routes", default="connectors,apply", help="comma-separated: connectors,apply")
    parser.add_argument("--serve", nargs=2, metavar=("PORT", "DATABASE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(int(args.serve[0]), args.serve[1])
        return
    print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs", flush=True)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as tmp:
        gateway = subprocess.Popen([sys.executable, __file__, "--serve", str(port), f"{tmp}/bench.db"])
        try:
            _wait_for(url)
            httpx.get(f"{url}/_lag")
            with httpx.Client(base_url=url, timeout=60) as client:  # the baseline: no import running
                idle = 0.0
                for _ in range(150):
                    started = time.perf_counter()
                    client.get("/healthz")
                    idle = max(idle, time.perf_counter() - started)
                    time.sleep(0.02)
            stall = float(httpx.get(f"{url}/_lag").text)
            print(
                f"idle    (no import)  loop stall max {stall * 1000:6.0f} ms  "
                f"/healthz max {idle * 1000:6.0f} ms"
            )
            for spec in args.specs.split(","):
                document = SPECS[spec]()
                for run in range(args.repeat):
                    seconds, size, outcome = convert(document)
                    print(f"{spec:7} convert  {size / 1e6:5.1f} MB  {seconds:6.2f} s  {outcome}", flush=True)
                    for route in args.routes.split(","):
                        measured = admin_import(url, f"{spec}{run}{route[0]}", document, route)
                        label = "admin" if route == "connectors" else route
                        print(
                            f"{spec:7} {label:8} HTTP {measured['status']}  {measured['seconds']:6.2f} s  "
                            f"loop stall max {measured['loop_stall'] * 1000:6.0f} ms  "
                            f"/healthz max {measured['healthz_worst'] * 1000:6.0f} ms",
                            flush=True,
                        )
        finally:
            gateway.terminate()
            gateway.wait(timeout=30)


def _wait_for(url: str) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit("the gateway did not start within 120 s")


if __name__ == "__main__":
    main()
