"""A second reference server: npm `@modelcontextprotocol/server-everything`, over Streamable HTTP.

Installed with the other node tools (tests/node/package-lock.json); started on a free loopback
port with the package's Node 22, and stopped (its process id only) when the test ends.
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.conformance.suite import NODE_BIN, NODE_DIR, SuiteMissing, node_env
from tests.conftest import free_port

ENTRY = NODE_DIR / "node_modules" / "@modelcontextprotocol" / "server-everything" / "dist" / "index.js"


@contextmanager
def everything_server(log: Path) -> Iterator[str]:
    """The server's /mcp URL while it runs."""
    if not ENTRY.exists():
        raise SuiteMissing(f"{ENTRY} is missing: run `make node-tools`")
    port = free_port()
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(NODE_BIN / "node"), str(ENTRY), "streamableHttp"],
            env={**node_env(), "PORT": str(port)},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_for(port, process, log)
            yield f"http://127.0.0.1:{port}/mcp"
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_for(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server-everything exited: {log.read_text(errors='replace')[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"server-everything did not listen on {port} within 30 s")
