"""One server of the LLM proxy benchmark, in a process of its own (started by bench/llm_proxy.py).

    python bench/_llm_serve.py mock --port-file F [--latency-ms 0] [--api-key K]
    python bench/_llm_serve.py gateway --port-file F --database-url URL

The mock is broker/demo/upstreams/llm.py without request recording. The gateway reads its
provider key from BROKER_LLM_PROVIDER_KEYS, as set by the benchmark. Both run one uvicorn
worker on 127.0.0.1 until SIGINT/SIGTERM; the gateway then drains its ledger.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import uvicorn

from bench._serve import bind, install_profiler, quiet_exit


def build_app(args: argparse.Namespace, port: int) -> Any:
    if args.role == "mock":
        from broker.demo.upstreams.llm import MockLLM, create_llm_app

        mock = MockLLM(api_key=args.api_key, latency_seconds=args.latency_ms / 1000, record=False)
        return create_llm_app(mock)
    from broker.app import create_app
    from broker.settings import Settings

    settings = Settings(
        database_url=args.database_url,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        redis_url=args.redis_url,
    )
    return create_app(settings)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("role", choices=["mock", "gateway"])
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--api-key")
    parser.add_argument("--database-url")
    parser.add_argument("--redis-url")
    parser.add_argument("--cprofile")
    args = parser.parse_args()
    sock = bind()
    port = sock.getsockname()[1]
    app = build_app(args, port)
    if args.cprofile:
        install_profiler(args.cprofile)
    config = uvicorn.Config(
        app, log_level="warning", access_log=False, lifespan="on", timeout_graceful_shutdown=20
    )
    tmp = f"{args.port_file}.tmp"
    Path(tmp).write_text(str(port))
    os.replace(tmp, args.port_file)
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, quiet_exit)
    uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    main()
