"""The CLI starts without loading the gateway: `--help`, `--version`, completion, and a
reader that goes away early."""

from __future__ import annotations

import json
import subprocess
import sys

from broker.cli.main import COMMANDS, build_parser
from tests.cli.test_process import BROKER, env, run
from tests.conftest import RunningGateway

HEAVY = ("sqlalchemy", "httpx", "connectors", "mcp", "fastapi", "pydantic", "cryptography", "sqlglot")


def loaded_after(*argv: str) -> list[str]:
    """The heavy packages a CLI invocation imported (it runs in a fresh interpreter)."""
    code = (
        "import sys\nfrom broker.cli.main import main\ntry:\n    main(sys.argv[1:])\nexcept SystemExit:\n"
        "    pass\nimport json\nprint(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, *argv], capture_output=True, text=True, timeout=60, check=True
    )
    modules = json.loads(done.stdout.strip().splitlines()[-1])
    return [name for name in HEAVY if name in modules]


def test_help_and_version_load_nothing_heavy() -> None:
    assert loaded_after("--help") == []
    assert loaded_after("--version") == []
    assert loaded_after("agents", "--help") == []
    assert loaded_after("policy", "explain", "--help") == []


def test_the_command_table_matches_what_the_modules_register() -> None:
    parser = build_parser()
    registered = {
        name: choice.description
        for action in parser._subparsers._group_actions  # type: ignore[union-attr]
        for name, choice in action.choices.items()
    }
    assert registered == {name: help_text for name, (_, help_text) in COMMANDS.items()}


def test_version_and_completion() -> None:
    version = run("--version")
    assert version.returncode == 0 and version.stdout.startswith("broker ")
    for shell in ("bash", "zsh"):
        script = run("completion", shell)
        assert script.returncode == 0, script.stderr
        assert "broker" in script.stdout and "connectors" in script.stdout and "explain" in script.stdout


def test_a_reader_that_stops_early_ends_the_command_quietly(gateway: RunningGateway) -> None:
    gateway.create_agent("bot", team="t")
    values = {"BROKER_ADMIN_URL": gateway.url, "BROKER_ADMIN_TOKEN": gateway.admin_token}
    with subprocess.Popen(
        [BROKER, "agents", "list"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env(**values)
    ) as process:
        assert process.stdout is not None and process.stderr is not None
        process.stdout.close()  # `| head -0`: gone before the CLI writes its first line
        errors = process.stderr.read().decode()
        process.wait(timeout=60)
    assert "Traceback" not in errors and "BrokenPipeError" not in errors, errors
    assert errors == ""
