"""`broker llm ...` and `broker usage` against the real gateway."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.cli.conftest import Broker, run_cli  # noqa: F401 (fixture)
from tests.llm.conftest import LlmSetup

HELLO = [{"role": "user", "content": "hello"}]


@pytest.fixture
def cli(llm: LlmSetup, run_cli: Broker, monkeypatch: pytest.MonkeyPatch) -> Broker:  # noqa: F811
    monkeypatch.setenv("BROKER_ADMIN_URL", llm.gateway.url)
    monkeypatch.setenv("BROKER_ADMIN_TOKEN", llm.gateway.admin_token)
    return run_cli


def test_apply_list_show_remove(cli: Broker, llm: LlmSetup, tmp_path: Path) -> None:
    path = tmp_path / "llm.yaml"
    document = {
        "models": [{"name": "smart", "targets": ["mock/mock-large", "mock/mock-small"]}],
        "budgets": [{"name": "support-day", "team": "support", "period": "day", "usd": 5}],
        "rate_limits": [{"name": "bot", "agent": "bot", "rpm": 60}],
    }
    path.write_text(yaml.safe_dump(document))
    applied = cli("llm", "apply", "-f", str(path))
    assert applied.code == 0 and "models:      created smart" in applied.out
    assert "no changes" in cli("llm", "apply", "-f", str(path)).out

    providers = cli("llm", "providers", "list").out.splitlines()
    assert providers[0].split() == ["NAME", "KIND", "BASE", "URL", "KEY", "MODELS"]
    assert providers[2].split()[:4] == ["mock", "openai", f"{llm.mock_url}/v1", "ok"]
    routes = cli("llm", "models", "list").out
    assert "smart  mock/mock-large, mock/mock-small" in routes
    assert "support-day  team support  day  5.0 USD" in cli("llm", "budgets", "list").out
    shown = cli("llm", "models", "show", "smart").out
    assert "targets: mock/mock-large, mock/mock-small" in shown
    assert cli("llm", "rate-limits", "remove", "bot").out == "removed rate-limit bot\n"
    assert "no rate-limits yet" in cli("llm", "rate-limits", "list").out


def test_a_bad_file_is_reported_with_its_line(cli: Broker, tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("budgets:\n  - name: x\n    agent: bot\n    period: fortnight\n    tokens: 5\n")
    result = cli("llm", "apply", "-f", str(path))
    assert (
        result.code == 1 and f"{path}:4:5: budgets[0].period: Input should be 'day' or 'month'" in result.err
    )
    path.write_text("models:\n  - name: y\n    targets: [mock/nothing]\n")
    result = cli("llm", "apply", "-f", str(path))
    assert (
        result.code == 1 and f"{path}:3:15: models[0].targets[0]: provider 'mock' does not list" in result.err
    )


def test_prices_set_and_budget_status(cli: Broker, llm: LlmSetup) -> None:
    assert cli("llm", "prices", "set", "mock/mock-small", "--input", "2", "--output", "4").out == (
        "created price mock/mock-small\n"
    )
    prices = cli("llm", "prices", "list").out
    assert "mock/mock-small  2.0    4.0     2.0" in prices
    llm.apply({"budgets": [{"name": "bot-day", "agent": "bot", "period": "day", "tokens": 1000}]})
    llm.openai().chat.completions.create(model="fast", messages=HELLO)
    status = cli("llm", "budgets", "status").out.splitlines()
    assert status[1].split()[:6] == ["bot-day", "agent", "bot", "day", "13", "0"]


def test_usage(cli: Broker, llm: LlmSetup) -> None:
    client = llm.openai()
    client.chat.completions.create(model="fast", messages=HELLO)
    client.chat.completions.create(model="mock-large", messages=HELLO)
    lines = cli("usage", "--by", "agent,model", "--period", "today").out.splitlines()
    assert lines[0].startswith("# usage since ")
    assert lines[1].split() == [
        "AGENT",
        "MODEL",
        "REQUESTS",
        "ERRORS",
        "PROMPT",
        "COMPLETION",
        "CACHED",
        "ESTIMATED",
        "COST",
    ]
    assert lines[2].split() == ["bot", "fast", "1", "0", "1", "12", "0", "0", "$0.0000"]
    assert lines[4].split() == ["TOTAL", "2", "0", "2", "24", "0", "0", "$0.0002"]
    report = json.loads(cli("usage", "--by", "team", "--json").out)
    assert report["lines"][0]["group"] == {"team": "support"} and report["total"]["requests"] == 2


def test_broker_apply_takes_an_llm_section(cli: Broker, llm: LlmSetup, tmp_path: Path) -> None:
    path = tmp_path / "all.yaml"
    document = {"llm": {"prices": [{"model": "mock-large", "input": 1, "output": 2}]}}
    path.write_text(yaml.safe_dump(document))
    result = cli("apply", "-f", str(path), "--json")
    assert result.code == 0 and json.loads(result.out)["llm"]["prices"]["created"] == ["mock-large"]


def test_the_combined_files_llm_section_applies_with_either_command(cli: Broker, tmp_path: Path) -> None:
    section = {"models": [{"name": "quick", "targets": ["mock/mock-small"]}]}
    alone = tmp_path / "llm-section.yaml"
    alone.write_text(yaml.safe_dump({"llm": section}))
    applied = cli("llm", "apply", "-f", str(alone))
    assert applied.code == 0, applied.err
    assert "models:      created quick" in applied.out

    combined = tmp_path / "combined.yaml"
    section["models"].append({"name": "quicker", "targets": ["mock/mock-small"]})
    combined.write_text(yaml.safe_dump({"llm": section, "policies": []}))
    refused = cli("llm", "apply", "-f", str(combined))
    assert refused.code == 1
    assert f"apply the whole file with `broker apply -f {combined}`" in refused.err
    whole = cli("apply", "-f", str(combined))
    assert whole.code == 0, whole.err
    assert "llm models:" in whole.out and "created quicker" in whole.out
