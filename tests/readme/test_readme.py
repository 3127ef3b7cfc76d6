"""README.md, run as a newcomer would run it: every fenced `bash` and `python` block, in order,
against a running `broker demo`, so the README cannot drift from what the code does.

How blocks are read:
- A block runs in a scratch copy of the checkout (links to every top-level entry, so
  `.venv/bin/broker` and `policies/examples/...` are where the README says), after the demo
  has written `.demo/connection.json` there. Shell blocks share exported variables in order.
- `<!-- readme-test: skip: REASON -->` on the line before a fence skips that block, saying why
  (a server that runs until stopped, the public internet, the suite itself).
- `<!-- readme-test: file: NAME -->` before a block writes it to NAME first, as a reader
  saving the example would (all such files are written before any block runs).
- The demo listens on a free port P, its upstreams on P+1..P+4; the README names the defaults
  (127.0.0.1:8000 for the gateway, :8001-:8004 for the upstreams), which are rewritten.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
RUNNABLE = {"bash", "sh", "python"}
FENCE = re.compile(
    r"^(?P<indent>[ \t]*)(?:<!-- readme-test: (?P<directive>[^>]*?) -->\n(?P=indent))?"
    r"```(?P<lang>[\w-]*)\n(?P<body>.*?)^(?P=indent)```[ \t]*$",
    re.MULTILINE | re.DOTALL,
)


@dataclass(frozen=True)
class Block:
    line: int
    lang: str
    body: str
    directive: str

    @property
    def skip_reason(self) -> str | None:
        return self.directive.removeprefix("skip:").strip() if self.directive.startswith("skip:") else None

    @property
    def file_name(self) -> str | None:
        return self.directive.removeprefix("file:").strip() if self.directive.startswith("file:") else None

    def __str__(self) -> str:
        return f"README.md:{self.line} ({self.lang})"


def blocks(text: str) -> list[Block]:
    found = []
    for match in FENCE.finditer(text):
        body = textwrap.dedent(match["body"])
        line = text.count("\n", 0, match.start("lang")) + 1
        found.append(Block(line, match["lang"], body, (match["directive"] or "").strip()))
    return found


def test_every_shell_and_python_block_is_fenced_and_marked_sensibly() -> None:
    """Commands hidden in indented blocks would escape the run below; skips must say why."""
    text = README.read_text()
    for block in blocks(text):
        if block.directive:
            assert block.skip_reason or block.file_name, f"{block}: unknown directive {block.directive!r}"
        if block.skip_reason is not None:
            assert block.skip_reason, f"{block}: a skip must give its reason"
    fenced = "".join(m.group(0) for m in FENCE.finditer(text))
    outside = FENCE.sub("", text)
    for line in outside.splitlines():
        command = line.strip()
        if line.startswith("    ") and re.match(r"(\.venv/bin/)?(broker|make|npx|python3?) ", command):
            pytest.fail(f"README.md: an unfenced command (fence it as ```bash): {command!r}")
    assert fenced


def free_block(size: int = 5, tries: int = 200) -> int:
    """A port P with P+1..P+size-1 free too: the demo's upstreams sit beside the gateway."""
    for _ in range(tries):
        port = free_port()
        with contextlib.ExitStack() as held:
            try:
                for offset in range(1, size):
                    probe = held.enter_context(socket.socket())
                    probe.bind(("127.0.0.1", port + offset))
            except OSError:
                continue
            return port
    pytest.fail(f"found no {size} free neighbouring ports on 127.0.0.1 in {tries} tries")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, int]]:
    """`broker demo` in a scratch copy of the checkout, as a newcomer starts it."""
    workdir = tmp_path_factory.mktemp("checkout")
    for entry in ROOT.iterdir():
        if entry.name not in {".demo", ".git"}:
            (workdir / entry.name).symlink_to(entry)
    port = free_block()
    env = {**os.environ, "BROKER_PORT": str(port)}
    env.pop("BROKER_ADMIN_TOKEN", None)
    process = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "broker"), "demo"],
        cwd=workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    connection = workdir / ".demo" / "connection.json"
    deadline = time.monotonic() + 120
    while not connection.exists():
        if process.poll() is not None:
            pytest.fail(f"`broker demo` exited: {process.stdout.read() if process.stdout else ''}")
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail("`broker demo` did not write .demo/connection.json within 120 s")
        time.sleep(0.2)
    time.sleep(0.3)
    try:
        yield workdir, port
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def localise(body: str, port: int) -> str:
    return re.sub(r"127\.0\.0\.1:800([0-4])\b", lambda m: f"127.0.0.1:{port + int(m[1])}", body)


def test_the_readme_runs_against_the_demo(demo: tuple[Path, int]) -> None:
    workdir, port = demo
    all_blocks = blocks(README.read_text())
    for block in all_blocks:
        if block.file_name:
            (workdir / block.file_name).write_text(localise(block.body, port))
    state = workdir / ".readme-env.sh"
    state.write_text("")
    env = {**os.environ, "PATH": f"{ROOT / '.venv' / 'bin'}{os.pathsep}{os.environ['PATH']}"}
    env.pop("BROKER_ADMIN_TOKEN", None)
    env.pop("BROKER_ADMIN_URL", None)
    ran = skipped = 0
    for block in all_blocks:
        if block.lang not in RUNNABLE or block.file_name:
            continue
        if block.skip_reason:
            print(f"skipped {block}: {block.skip_reason}")
            skipped += 1
            continue
        body = localise(block.body, port)
        if block.lang == "python":
            command = [sys.executable, "-c", body]
        else:
            script = f"source {shlex.quote(str(state))}\nset -euo pipefail\n{body}\nexport -p > {state}\n"
            command = ["bash", "-c", script]
        done = subprocess.run(
            command, cwd=workdir, env=env, capture_output=True, text=True, timeout=120, check=False
        )
        assert done.returncode == 0, (
            f"{block} failed (exit {done.returncode}):\n{body}\n"
            f"--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"
        )
        assert "Traceback" not in done.stderr, f"{block} printed a traceback:\n{done.stderr}"
        ran += 1
    print(f"README: {ran} blocks ran, {skipped} skipped with their reasons")
    assert ran >= 5
