"""`broker apply` and `broker policy ...`: files checked locally, then applied."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from tests.cli.conftest import Broker
from tests.conftest import RunningGateway, free_port


def write_document(tmp_path: Path, weather_url: str, crm_url: str) -> Path:
    """A combined file whose CRM connector reads its OpenAPI document from a file beside it."""
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "crm.json").write_text(httpx.get(f"{crm_url}/openapi.json").text)
    path = tmp_path / "broker.yaml"
    path.write_text(
        f"""\
connectors:
  - name: weather
    kind: http
    base_url: {weather_url}
    allow_private_network: true
    tools:
      - name: current
        description: Current weather.
        path: /v1/current
        query: [city]
        input_schema: {{type: object, properties: {{city: {{type: string}}}}, required: [city]}}
  - name: crm
    kind: openapi
    spec: specs/crm.json
    base_url: {crm_url}
    allow_private_network: true
agents:
  - name: support-bot
    team: support
policies:
  - name: support
    teams: [support]
    allow: ["crm.*", "weather.*"]
    deny: ["crm.create_note"]
"""
    )
    return path


def test_apply_a_file_twice(broker: Broker, tmp_path: Path, weather_upstream: str, crm_upstream: str) -> None:
    path = write_document(tmp_path, weather_upstream, crm_upstream)
    first = broker("apply", "-f", str(path))
    assert first.code == 0, first.err
    assert "connectors: created weather, crm" in first.out
    assert "agents:     created support-bot" in first.out
    assert "policies:   revision 1; changed support" in first.out

    second = broker("apply", "-f", str(path))
    assert (second.code, second.out.strip()) == (
        0,
        f"no changes: everything is already as {path} says (policy revision 1)",
    )
    history = json.loads(broker("policy", "history", "--json").out)
    assert [(h["revision"], h["source"]) for h in history] == [(1, "broker.yaml")]


def test_local_mistakes_print_file_line_column_before_anything_is_sent(
    run_cli: Broker, tmp_path: Path
) -> None:
    path = tmp_path / "broker.yaml"
    path.write_text("agents:\n  - name: Bad Name\n    tema: x\npolicies:\n  - name: p\n")
    nowhere = f"http://127.0.0.1:{free_port()}"
    result = run_cli("--url", nowhere, "apply", "-f", str(path))
    assert result.code == 1
    lines = result.err.splitlines()
    assert lines[0] == f"error: {path} is not valid"
    assert f"{path}:2:5: agents[0].name: String should match pattern" in result.err
    assert f"{path}:3:5: agents[0].tema: unknown field 'tema'; did you mean 'team'?" in lines
    assert f"{path}:5:5: policies[0].allow: Field required" in lines
    assert "Traceback" not in result.err

    path.write_text("agents: [\n")
    assert f"{path}:2:1: (document):" in run_cli("--url", nowhere, "apply", "-f", str(path)).err
    missing = run_cli("apply", "-f", str(tmp_path / "nope.yaml"))
    assert (missing.code, missing.err.strip()) == (
        1,
        f"error: cannot read {tmp_path / 'nope.yaml'}: No such file or directory",
    )


def test_gateway_problems_are_placed_in_the_file(broker: Broker, tmp_path: Path) -> None:
    path = tmp_path / "policies.yaml"
    path.write_text("policies:\n  - name: p\n    agents:\n      - ghost\n    allow: [weather.current]\n")
    result = broker("policy", "apply", "-f", str(path))
    assert result.code == 1
    assert result.err.splitlines()[0] == "error: the policies refer to things that do not exist"
    assert f"{path}:4:9: policies[0].agents[0]: no agent named 'ghost'" in result.err
    assert f"{path}:5:13: policies[0].allow[0]:" in result.err


def test_policy_apply_show_delete_and_history(
    broker: Broker, tmp_path: Path, gateway: RunningGateway
) -> None:
    gateway.create_agent("bot")
    path = tmp_path / "p.yaml"
    path.write_text("policies:\n  - name: p\n    agents: [bot]\n    allow: ['*']\n")
    path.write_text(path.read_text() + "  - name: q\n    teams: [t]\n    allow: ['*']\n")
    assert broker("policy", "apply", "-f", str(path)).out.strip() == "policy revision 1: changed p, q"
    assert "no changes" in broker("policy", "apply", "-f", str(path)).out
    shown = broker("policy", "show").out
    assert shown.startswith("# policy revision 1\npolicies:\n- name: p\n  agents:\n  - bot\n")
    assert "description" not in shown  # empty fields are left out
    assert broker("policy", "delete", "q").out.strip() == "deleted policy q; revision 2 is in force"
    assert "- name: q" in broker("policy", "show", "--revision", "1").out
    assert "- name: q" not in broker("policy", "show").out
    history = broker("policy", "history").out.splitlines()
    assert history[0].split() == ["REVISION", "CREATED", "SOURCE", "POLICIES"]
    assert history[1].split()[0] == "2" and history[1].endswith("delete q  p")
    missing = broker("policy", "delete", "q")
    assert (missing.code, missing.err.splitlines()[0]) == (
        1,
        "error: no policy named 'q'; `broker policy show` lists them",
    )


def test_validate_works_offline(run_cli: Broker, tmp_path: Path) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    path = tmp_path / "p.yaml"
    path.write_text("policies:\n  - name: p\n    agents: [bot]\n    allow: ['crm.*']\n")
    result = run_cli("--url", nowhere, "policy", "validate", "-f", str(path))
    assert (result.code, result.out.strip()) == (0, f"{path}: valid: 1 policy (p)")
    path.write_text(
        "agents: [{name: bot}]\npolicies:\n  - name: p\n    agents: [bot]\n    allow: ['crm.*']\n"
    )
    assert "1 connector" not in run_cli("policy", "validate", "-f", str(path)).out
    assert "0 connector(s), 1 agent(s)" in run_cli("policy", "validate", "-f", str(path)).out
    path.write_text("policies:\n  - name: p\n    agents: [bot]\n    allow: ['crm.*']\n    deny: crm\n")
    invalid = run_cli("policy", "validate", "-f", str(path))
    assert invalid.code == 1
    assert f"{path}:5:5: policies[0].deny: Input should be a valid list" in invalid.err


def test_explain_exit_codes(broker: Broker, gateway: RunningGateway) -> None:
    gateway.create_agent("bot")
    gateway.admin.post(
        "/admin/policies",
        json={
            "policies": [
                {
                    "name": "p",
                    "agents": ["bot"],
                    "allow": ["*"],
                    "constraints": {"*": {"limit": {"maximum": 5}}},
                }
            ]
        },
    ).raise_for_status()
    allowed = broker("policy", "explain", "--agent", "bot", "--tool", "crm.get")
    assert allowed.code == 0
    assert allowed.out.splitlines()[:2] == [
        "ALLOW bot -> crm.get",
        "  reason: granted by policy 'p' (allow '*')",
    ]
    assert "no connector offers this tool" in allowed.out
    denied = broker("policy", "explain", "--agent", "bot", "--tool", "crm.get", "--args", '{"limit": 50}')
    assert denied.code == 3
    assert denied.out.startswith("DENY bot -> crm.get")
    as_json = broker(
        "policy", "explain", "--agent", "bot", "--tool", "crm.get", "--args", '{"limit": 50}', "--json"
    )
    assert (as_json.code, json.loads(as_json.out)["allowed"]) == (3, False)
    bad = broker("policy", "explain", "--agent", "bot", "--tool", "crm.get", "--args", "{limit: 5}")
    assert bad.code == 2 and bad.err.startswith("error: --args is not valid JSON")
    assert broker("policy", "explain", "--agent", "bot", "--tool", "x.y", "--args", "[1]").code == 2
    unknown = broker("policy", "explain", "--agent", "ghost", "--tool", "x.y")
    assert unknown.code == 1 and unknown.err.startswith("error: no agent named 'ghost'")


def test_explain_a_resource_and_a_prompt(broker: Broker, gateway: RunningGateway) -> None:
    gateway.create_agent("bot")
    policy = {
        "name": "p",
        "agents": ["bot"],
        "allow": [],
        "resources": {"allow": ["broker://crm/*"], "deny": ["broker://crm/tables/audit*"]},
        "prompts": {"allow": ["crm.*"], "constraints": {"crm.brief": {"tone": {"enum": ["short"]}}}},
    }
    gateway.admin.post("/admin/policies", json={"policies": [policy]}).raise_for_status()
    read = broker("policy", "explain", "--agent", "bot", "--resource", "broker://crm/tables/customers")
    assert read.code == 0
    assert read.out.splitlines()[:2] == [
        "ALLOW bot -> resource broker://crm/tables/customers",
        "  reason: granted by policy 'p' (resources.allow 'broker://crm/*')",
    ]
    assert "no connector offers this resource" in read.out
    audit = broker("policy", "explain", "--agent", "bot", "--resource", "broker://crm/tables/audit_log")
    assert audit.code == 3 and "resources.deny 'broker://crm/tables/audit*'" in audit.out
    prompt = broker(
        "policy", "explain", "--agent", "bot", "--prompt", "crm.brief", "--args", '{"tone": "long"}'
    )
    assert prompt.code == 3 and prompt.out.startswith("DENY bot -> prompt crm.brief")
    assert "argument 'tone' = 'long' is not one of the allowed values 'short'" in prompt.out
    tool = broker("policy", "explain", "--agent", "bot", "--tool", "crm.get")
    assert tool.code == 3 and "a tool" not in tool.out  # a resource grant grants no tool
    both = broker("policy", "explain", "--agent", "bot", "--tool", "crm.get", "--prompt", "crm.brief")
    assert both.code == 2
