"""Hostile /v1 bodies: the gateway's memory (RSS) stays bounded.

    .venv/bin/python bench/hostile_bodies.py                 # today's defaults
    .venv/bin/python bench/hostile_bodies.py --old-defaults  # 32 MiB per body, no shared budget

Starts a mock provider (in this process) and `broker serve` (a process of its own, so its
RSS is the gateway's alone), then sends, as an authenticated agent, waves of concurrent
bodies: 7.5 MiB JSON chat bodies (under the per-request limit), 20 MB bodies with their
Content-Length, and 20 MB bodies sent chunked. RSS is sampled every 20 ms; the peak and the
figure after the waves are reported with the status codes seen. The machine is shared: read
the figures as orders of magnitude.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from broker.demo.upstreams.llm import MockLLM, create_llm_app  # noqa: E402
from broker.demo.upstreams.serve import BackgroundServer  # noqa: E402
from tests.conftest import free_port  # noqa: E402

ADMIN = "bench-admin-token-0123456789"
KEY = "sk-bench-provider"


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def wave(url: str, key: str, count: int, body: bytes, chunked: bool) -> Counter[int | str]:
    seen: Counter[int | str] = Counter()
    headers = {"Authorization": f"Bearer {key}", "content-type": "application/json"}

    async def parts() -> object:
        for start in range(0, len(body), 1 << 20):
            yield body[start : start + (1 << 20)]

    async with httpx.AsyncClient(timeout=120, limits=httpx.Limits(max_connections=count)) as client:

        async def one() -> None:
            try:
                content = parts() if chunked else body
                answer = await client.post(f"{url}/v1/chat/completions", content=content, headers=headers)
                seen[answer.status_code] += 1
            except httpx.HTTPError as exc:  # the server answered early and closed: the send broke
                seen[type(exc).__name__] += 1

        await asyncio.gather(*(one() for _ in range(count)))
    return seen


def chat_body(size: int) -> bytes:
    return json.dumps({"model": "fast", "messages": [{"role": "user", "content": "x" * size}]}).encode()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--old-defaults", action="store_true", help="32 MiB per body, no shared budget")
    parser.add_argument("--concurrency", type=int, default=24)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="hostile-bodies-"))
    port = free_port()
    env = {
        **os.environ,
        "BROKER_PORT": str(port),
        "BROKER_ADMIN_TOKEN": ADMIN,
        "BROKER_DATABASE_URL": f"sqlite:///{workdir / 'broker.db'}",
        "BROKER_LLM_PROVIDER_KEYS": json.dumps({"MOCK_KEY": KEY}),
        "BROKER_LOG_LEVEL": "warning",
    }
    if args.old_defaults:
        env |= {"BROKER_LLM_MAX_REQUEST_BYTES": str(32 << 20), "BROKER_LLM_MAX_INFLIGHT_BYTES": str(1 << 40)}
    with BackgroundServer(create_llm_app(MockLLM(api_key=KEY, record=False))) as mock:
        gateway = subprocess.Popen(
            [str(ROOT / ".venv/bin/broker"), "serve"], env=env, cwd=workdir, start_new_session=True
        )
        try:
            url = f"http://127.0.0.1:{port}"
            admin = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {ADMIN}"}, timeout=30)
            for _ in range(300):
                try:
                    if admin.get("/healthz").status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.1)
            admin.post("/admin/agents", json={"name": "bot"}).raise_for_status()
            key = admin.post("/admin/agents/bot/keys", json={}).json()["key"]
            provider = {"name": "mock", "kind": "openai", "base_url": f"{mock.url}/v1",
                        "api_key_secret": "MOCK_KEY", "models": ["mock-small"]}  # fmt: skip
            document = {"providers": [provider], "models": [{"name": "fast", "targets": ["mock/mock-small"]}]}
            admin.post("/admin/llm/apply", json=document).raise_for_status()
            policy = {"name": "p", "agents": ["bot"], "allow": [], "models": {"allow": ["*"]}}
            admin.post("/admin/policies", json={"policies": [policy]}).raise_for_status()
            admin.post(f"{url}/v1/chat/completions", json={"model": "fast", "messages": []})

            peak = [0.0]
            stop = threading.Event()

            def sample() -> None:
                while not stop.is_set():
                    peak[0] = max(peak[0], rss_mb(gateway.pid))
                    time.sleep(0.02)

            sampler = threading.Thread(target=sample, daemon=True)
            before = rss_mb(gateway.pid)
            sampler.start()
            waves = [
                ("7.5 MiB bodies", chat_body(int(7.5 * (1 << 20))), False),
                ("20 MB bodies, Content-Length", chat_body(20_000_000), False),
                ("20 MB bodies, chunked", chat_body(20_000_000), True),
            ]
            results = []
            for name, body, chunked in waves:
                for _ in range(2):
                    seen = asyncio.run(wave(url, key, args.concurrency, body, chunked))
                    results.append(f"{name}: {dict(seen)}")
            stop.set()
            sampler.join()
            after = rss_mb(gateway.pid)
            label = (
                "old defaults (32 MiB, no budget)" if args.old_defaults else "defaults (8 MiB, 64 MiB budget)"
            )
            print(f"{label}, {args.concurrency} concurrent per wave")
            for line in results:
                print("  " + line)
            print(f"  gateway RSS: before {before:.0f} MB, peak {peak[0]:.0f} MB, after {after:.0f} MB")
        finally:
            os.killpg(gateway.pid, signal.SIGTERM)
            gateway.wait(30)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
