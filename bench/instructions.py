"""The gateway's instructions per tools/call, counted by valgrind's callgrind: a figure for A/B.

Run it from the project root (valgrind must be installed: `apt-get install valgrind`):

    .venv/bin/python bench/instructions.py                      # http, 1,000 calls
    .venv/bin/python bench/instructions.py --scenario "mcp miss" --calls 500
    .venv/bin/python bench/instructions.py --scenario pii --calls 100  # 100 KB results, as pii_path
    .venv/bin/python bench/instructions.py --scenario pii --calls 100 --vault-tokens 850000
    .venv/bin/python bench/instructions.py --scenario llm              # /v1/chat/completions, as llm_proxy

What it does: starts the upstreams as bench/tool_path.py does and the gateway under callgrind
with counting off; sends warm-up calls one at a time, turns counting on (`callgrind_control -i
on`), sends `--calls` calls one at a time, turns it off and dumps the counts. The scenarios are
tool_path's (http, mcp miss, mcp hit, sql), pii_path's 100 KB results (`fed.sized`, a new
seed per call) and llm_proxy's non-streaming chat completion (`llm`: the gateway and its mock
provider as bench/llm_proxy.py starts them). Each answer is checked as those benches check it.
`--vault-tokens` first fills the gateway's PII token vault with that many tokens of another
agent, as ~3,000 calls of pii_path's 100 KB would (`--vault-calls 3000`: ~850,000), in a
fraction of the time those calls take under valgrind. The SQLite vault writes a call's tokens
behind, up to ~1 s later: the last calls' may be written after counting stops, so count enough
calls (100) that those few weigh little.

What the number means: instructions the gateway's threads executed per call (event loop and
writer threads; the kernel's work is not counted). CPU seconds on this 2-core machine move by
1.6-2x from one hour to the next with its neighbours; this count moves by ~1-2% from run to run
whatever they do, so it shows a change of a few percent that the timed benches cannot. Compare
runs made alike: both alone, or both at once (under load the event loop wakes up more often and
counts ~5% more). It is not a time: valgrind runs the gateway ~50x slower, and its CPU has no
SHA or AES instructions, so hashing and sealing are counted in their portable (longer) form.
To see where the instructions go, keep the dump (`--keep DIR`) and read it with
`callgrind_annotate --inclusive=yes` (C functions: the interpreter's, pydantic-core's, ours).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import _llm_setup
from bench._load import Phase, Send, make_client, rpc_sender, run_phase
from bench._setup import ROOT, SERVE, Child, scratch_database, seed
from bench._upstreams import make_sqlite
from bench.llm_proxy import body, check
from bench.tool_path import scenarios, sender
from broker.pii.sealing import TokenSealer
from broker.pii.sql_vault import SqlTokenVault
from broker.secrets.keys import generate_key
from broker.store.db import make_engine

SCENARIOS = ("http", "mcp miss", "mcp hit", "sql", "pii", "llm")
WARM_UP = {"pii": 20}
"""Warm-up calls per scenario (default 300): a 100 KB result costs ~100 small ones."""
START_TIMEOUT = 600.0
"""Seconds the gateway may take to start under valgrind (imports and migrations, ~50x slower)."""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenario", choices=SCENARIOS, default="http")
    parser.add_argument("--calls", type=int, default=1000, help="calls counted, one at a time")
    parser.add_argument("--keep", metavar="DIR", help="keep callgrind's dump files in DIR")
    parser.add_argument(
        "--vault-tokens", type=int, default=0, help="PII tokens in the vault before the gateway starts"
    )
    args = parser.parse_args(argv)
    if args.calls < 1:
        parser.error("--calls must be at least 1")
    if args.vault_tokens < 0:
        parser.error("--vault-tokens cannot be negative")
    return args


def model_sender(client: httpx.AsyncClient, key: str) -> Send:
    """A non-streaming chat completion, checked as bench/llm_proxy.py checks it."""
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    content = body(stream=False).replace(b'"mock-small"', b'"fast/mock-small"')

    async def send(_: int) -> str | None:
        response = await client.post("/v1/chat/completions", content=content, headers=headers)
        return check(response.status_code, response.content[-256:], False, None, [])

    return send


def call_sender(client: httpx.AsyncClient, scenario: str, key: str) -> Send:
    if scenario == "llm":
        return model_sender(client, key)
    if scenario == "pii":
        return rpc_sender(
            client,
            "fed.sized",
            lambda n: {"kb": 100, "seed": 9_300_000 + n},
            {"Authorization": f"Bearer {key}"},
        )
    (chosen,) = [s for s in scenarios(os.getpid()) if s.name == scenario]
    return sender(client, "gateway", chosen, key)


def wait_until_up(process: subprocess.Popen[bytes], port_file: Path) -> str:
    deadline = time.monotonic() + START_TIMEOUT
    url = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"the gateway exited under valgrind during start-up (code {process.returncode})"
            )
        if url is None and port_file.exists():
            url = f"http://127.0.0.1:{int(port_file.read_text())}"
        if url is not None:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/healthz", timeout=30, trust_env=False).status_code == 200:
                    return url
        time.sleep(0.5)
    raise RuntimeError(f"the gateway did not start under valgrind within {START_TIMEOUT:g}s")


def control(*args: str) -> None:
    subprocess.run(["callgrind_control", *args], check=True, capture_output=True)


async def drive(url: str, scenario: str, key: str, calls: int, pid: int) -> None:
    async with make_client(url) as client:
        send = call_sender(client, scenario, key)
        for first, count, counting in ((1, WARM_UP.get(scenario, 300), False), (1_000_000, calls, True)):
            if counting:
                control("-i", "on", str(pid))
            phase = await run_phase(
                Phase(scenario, 1), [send], requests=count, max_seconds=3600, pids={}, first_id=first
            )
            if counting:
                control("-i", "off", str(pid))
            if phase.errors or phase.requests != count:
                raise RuntimeError(f"{phase.errors} calls failed; the first: {phase.first_error}")


def counted(dumps: list[Path]) -> int:
    """The instructions of every thread's dump (`totals:` per part)."""
    total = 0
    for dump in dumps:
        for line in dump.read_text(errors="replace").splitlines():
            if line.startswith("totals:"):
                total += int(line.split()[1])
    return total


def upstreams(
    stack: contextlib.ExitStack, scenario: str, workdir: Path, database_url: str
) -> tuple[Path, str]:
    """The scenario's upstreams started and the database seeded for them: the gateway's serving
    script, and the agent's key."""
    if scenario == "llm":
        mock = _llm_setup.Server("mock", "mock", workdir, "--api-key", _llm_setup.PROVIDER_KEY)
        stack.callback(mock.stop)
        key = _llm_setup.seed(database_url, mock.url, mock.url, limits=False)  # "fast" and "slow"
        os.environ["BROKER_LLM_PROVIDER_KEYS"] = json.dumps({"BENCH_KEY": _llm_setup.PROVIDER_KEY})
        return _llm_setup.SERVE, key
    upstream = Child("upstream", workdir, "--latency-ms", "0")
    stack.callback(upstream.stop)
    mcp = Child("mcp", workdir)
    stack.callback(mcp.stop)
    make_sqlite(workdir / "customers.db")
    key = seed(database_url, upstream.url, mcp_url=mcp.url, sqlite_path=workdir / "customers.db")
    os.environ.setdefault("BROKER_PII_SALT", secrets.token_urlsafe(24))
    return SERVE, key


async def fill_vault(database_url: str, count: int) -> None:
    """`count` tokens of an agent of their own in the vault, written as the gateway's SQLite vault
    writes them (behind, 50,000 a flush); sealed with a key of their own: never read."""
    engine = make_engine(database_url)
    vault = SqlTokenVault(engine, TokenSealer([generate_key()]), write_behind=True)
    try:
        for first in range(0, count, 50_000):
            batch = range(first, min(count, first + 50_000))
            await vault.put_many(
                "bench-prefill", {f"<EMAIL_ADDRESS_{n:012x}>": f"u{n}@example.com" for n in batch}, 86_400
            )
            if not await vault.flush():
                raise RuntimeError("the vault refused the prefill")
    finally:
        await vault.close()
        engine.dispose()


def run(args: argparse.Namespace) -> int:
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        print("valgrind is not installed: apt-get install valgrind", file=sys.stderr)
        return 2
    with contextlib.ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="instructions-bench-")))
        database_url = stack.enter_context(scratch_database(None, workdir))
        print("starting the upstreams and seeding SQLite ...", flush=True)
        serve, key = upstreams(stack, args.scenario, workdir, database_url)
        if args.vault_tokens:
            print(f"filling the PII token vault with {args.vault_tokens:,} tokens ...", flush=True)
            asyncio.run(fill_vault(database_url, args.vault_tokens))
        port_file, out = workdir / "gateway.port", workdir / "callgrind.out"
        command = [
            "valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}",
            sys.executable, str(serve), "gateway",
            "--port-file", str(port_file), "--database-url", database_url,
        ]  # fmt: skip
        print("starting the gateway under valgrind (a minute or two) ...", flush=True)
        gateway = subprocess.Popen(command, cwd=ROOT, start_new_session=True, stderr=subprocess.DEVNULL)
        try:
            url = wait_until_up(gateway, port_file)
            warm = WARM_UP.get(args.scenario, 300)
            print(f"{args.scenario}: {warm} calls to warm up, then {args.calls} counted", flush=True)
            asyncio.run(drive(url, args.scenario, key, args.calls, gateway.pid))
            control("-d", str(gateway.pid))
        finally:
            gateway.terminate()
            gateway.wait(120)
        dumps = sorted(path for path in workdir.glob("callgrind.out*") if path.stat().st_size > 0)
        total = counted(dumps)
        if args.keep:
            keep = Path(args.keep)
            keep.mkdir(parents=True, exist_ok=True)
            for dump in dumps:
                shutil.copy(dump, keep / dump.name)
    per_call = total / args.calls / 1e6
    filled = f", vault of {args.vault_tokens:,} tokens" if args.vault_tokens else ""
    print(f"gateway instructions per call ({args.scenario}, {args.calls} calls{filled}): {per_call:.3f} M")
    return 0


def main(argv: list[str] | None = None) -> int:
    return run(parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
