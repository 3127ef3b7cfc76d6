"""One server of the tool-path benchmark, in a process of its own (started by bench/tool_path.py).

    python bench/_serve.py upstream --port-file F [--latency-ms 0]
    python bench/_serve.py mcp --port-file F
    python bench/_serve.py gateway --port-file F --database-url URL

Binds 127.0.0.1 on a free port, writes the port to F, and serves with one uvicorn worker
(log level warning, no access log) until SIGINT/SIGTERM. uvicorn then shuts down gracefully:
the gateway's lifespan flushes the audit queue before the process exits. The gateway is served
as `broker serve` serves it: with `broker.serving.server_options` (the guarded HTTP protocol,
keep-alive and concurrency limits) and uvicorn's other defaults.

With --cprofile OUT the gateway profiles its event-loop thread between SIGUSR1 (start) and
SIGUSR2 (stop and write pstats to OUT), so start-up and migrations stay out of the profile. The
profile's clock is the thread's CPU time: on a shared machine wall time would charge a function
for the time the process waited to be scheduled (a socket write that wakes the client, say).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import signal
import socket
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import uvicorn


def bind() -> socket.socket:
    # IPPROTO_TCP explicitly, so asyncio sets TCP_NODELAY (no delayed-ACK stalls on small replies).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)
    sock.setblocking(False)
    return sock


def build_app(args: argparse.Namespace, port: int) -> tuple[Any, dict[str, Any]]:
    """The app and its uvicorn options beyond the defaults."""
    if args.role == "upstream":
        from broker.demo.upstreams.weather import create_weather_app

        return create_weather_app(latency_seconds=args.latency_ms / 1000), {}
    if args.role == "mcp":
        from bench._upstreams import create_mcp_app

        return create_mcp_app(), {}
    from broker.app import create_app
    from broker.serving import server_options
    from broker.settings import Settings

    settings = Settings(database_url=args.database_url, host="127.0.0.1", port=port, log_level="warning")
    return create_app(settings), server_options(settings)


def install_profiler(out: str) -> None:
    profiler = cProfile.Profile(time.thread_time)

    def start(*_: object) -> None:
        profiler.enable()

    def stop(*_: object) -> None:
        profiler.disable()
        profiler.dump_stats(out)

    signal.signal(signal.SIGUSR1, start)
    signal.signal(signal.SIGUSR2, stop)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("role", choices=["upstream", "mcp", "gateway"])
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--database-url")
    parser.add_argument("--cprofile")
    args = parser.parse_args()
    sock = bind()
    port = sock.getsockname()[1]
    app, options = build_app(args, port)
    if args.cprofile:
        install_profiler(args.cprofile)
    config = uvicorn.Config(
        app, log_level="warning", access_log=False, lifespan="on", timeout_graceful_shutdown=20, **options
    )
    tmp = f"{args.port_file}.tmp"
    Path(tmp).write_text(str(port))
    os.replace(tmp, args.port_file)
    # uvicorn re-raises the signal that stopped it once it has shut down; exit quietly then.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, quiet_exit)
    uvicorn.Server(config).run(sockets=[sock])


def quiet_exit(*_: object) -> None:
    raise SystemExit(0)


if __name__ == "__main__":
    main()
