"""Slow clients: /healthz latency while hundreds of half-open connections are held open.

    .venv/bin/python bench/slow_clients.py [--sockets 500]

Starts `broker serve` (a process of its own, header timeout 5 s), measures /healthz over
keep-alive (200 calls) before, then while `--sockets` connections each hold half a request
line, then counts how many of those connections the server has closed 7 s later. Wall-clock
figures on a shared machine: read them as orders of magnitude.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.conftest import free_port  # noqa: E402


def latencies(client: httpx.Client, count: int = 200) -> tuple[float, float]:
    seen = []
    for _ in range(count):
        start = time.perf_counter()
        client.get("/healthz").raise_for_status()
        seen.append(time.perf_counter() - start)
    seen.sort()
    return statistics.median(seen) * 1000, seen[int(len(seen) * 0.99) - 1] * 1000


def closed(sock: socket.socket) -> bool:
    sock.setblocking(False)
    try:
        while data := sock.recv(65536):
            del data
        return True  # EOF
    except BlockingIOError:
        return False
    except OSError:
        return True


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sockets", type=int, default=500)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="slow-clients-"))
    port = free_port()
    env = {
        **os.environ,
        "BROKER_PORT": str(port),
        "BROKER_DATABASE_URL": f"sqlite:///{workdir / 'broker.db'}",
        "BROKER_LOG_LEVEL": "warning",
        "BROKER_HTTP_HEADER_TIMEOUT_SECONDS": "5",
    }
    gateway = subprocess.Popen(
        [str(ROOT / ".venv/bin/broker"), "serve"], env=env, cwd=workdir, start_new_session=True
    )
    sockets: list[socket.socket] = []
    try:
        url = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=url, timeout=10) as client:
            for _ in range(300):
                with contextlib.suppress(httpx.HTTPError):
                    if client.get("/healthz").status_code == 200:
                        break
                time.sleep(0.1)
            quiet = latencies(client)
            for _ in range(args.sockets):
                sock = socket.create_connection(("127.0.0.1", port))
                sock.sendall(b"GET /healthz HTT")
                sockets.append(sock)
            loaded = latencies(client)
        time.sleep(7)
        cut = sum(closed(sock) for sock in sockets)
        print(f"/healthz before: median {quiet[0]:.2f} ms, p99 {quiet[1]:.2f} ms")
        print(
            f"/healthz with {args.sockets} half-open connections: "
            f"median {loaded[0]:.2f} ms, p99 {loaded[1]:.2f} ms"
        )
        print(f"half-open connections closed by the server 7 s later: {cut} of {args.sockets}")
    finally:
        for sock in sockets:
            sock.close()
        os.killpg(gateway.pid, signal.SIGTERM)
        gateway.wait(30)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
