"""Run the official MCP conformance suite (npm `@modelcontextprotocol/conformance`) and read its verdicts.

The suite and Node 22 are installed by `make node-tools` into tests/node/node_modules (pinned by
tests/node/package-lock.json). `run_suite` starts one `conformance server` run and returns, per
scenario, whether every check passed and the messages of the checks that did not.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

NODE_DIR = Path(__file__).parents[1] / "node"
NODE_BIN = NODE_DIR / "node_modules" / ".bin"
SCENARIO_TIMEOUT_MS = 10_000
"""Per scenario: a scenario that hangs (a request to the client nobody answers) fails in 10 s, not 30."""
_RUN_DIR = re.compile(r"^server-(?P<scenario>.+)-\d{4}-\d{2}-\d{2}T[\d-]+Z$")


@dataclass(frozen=True)
class Outcome:
    scenario: str
    passed: bool
    failures: tuple[str, ...] = field(default=())


class SuiteMissing(RuntimeError):
    """The node tools are not installed."""


def conformance_command() -> list[str]:
    binary = NODE_BIN / "conformance"
    if not binary.exists() or not (NODE_BIN / "node").exists():
        raise SuiteMissing(
            f"the MCP conformance suite is not installed under {NODE_DIR}: run `make node-tools` "
            "(npm installs Node 22 and @modelcontextprotocol/conformance from tests/node/package-lock.json)"
        )
    return [str(binary)]


def node_env() -> dict[str, str]:
    """The environment for node tools: Node 22 from the package first on PATH."""
    return {**os.environ, "PATH": f"{NODE_BIN}{os.pathsep}{os.environ.get('PATH', '')}", "NO_COLOR": "1"}


def start_suite(url: str, out_dir: Path, *, requirements: str | None = None) -> subprocess.Popen[bytes]:
    """Start one run in the background (runs against different servers may overlap)."""
    command = [*conformance_command(), "server", "--url", url, "-o", str(out_dir)]
    command += ["--timeout", str(SCENARIO_TIMEOUT_MS)]
    if requirements is not None:
        command += ["--requirements", requirements]
    out_dir.mkdir(parents=True, exist_ok=True)
    log = (out_dir / "run.log").open("wb")
    return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=node_env(), cwd=out_dir)


def finish_suite(process: subprocess.Popen[bytes], out_dir: Path, timeout: float = 600) -> dict[str, Outcome]:
    """Wait for a run and read every scenario's checks.json (a scenario with a FAILURE check fails)."""
    process.wait(timeout=timeout)
    outcomes: dict[str, Outcome] = {}
    for run in sorted(out_dir.iterdir()):
        match = _RUN_DIR.match(run.name)
        checks_file = run / "checks.json"
        if match is None or not checks_file.exists():
            continue
        checks = json.loads(checks_file.read_text())
        failures = tuple(
            f"{check.get('id')}: {check.get('errorMessage') or check.get('description', '')}"
            for check in checks
            if check.get("status") == "FAILURE"
        )
        scenario = match["scenario"]
        outcomes[scenario] = Outcome(scenario, passed=not failures, failures=failures)
    if not outcomes:
        log = (out_dir / "run.log").read_text(errors="replace")[-2000:]
        raise AssertionError(f"the conformance suite ran no scenario (exit {process.returncode}):\n{log}")
    return outcomes


def run_suite(url: str, out_dir: Path, *, requirements: str | None = None) -> dict[str, Outcome]:
    return finish_suite(start_suite(url, out_dir, requirements=requirements), out_dir)


def summary(outcomes: dict[str, Outcome]) -> str:
    passed = sum(outcome.passed for outcome in outcomes.values())
    return f"{passed}/{len(outcomes)}"
