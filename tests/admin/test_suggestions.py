"""Mistyped fields and names get a 'did you mean'; YAML is read as YAML 1.2."""

from __future__ import annotations

from tests.admin.conftest import post_yaml, problems_by_field, weather_connector
from tests.cli.test_process import run
from tests.conftest import RunningGateway


def test_an_unknown_field_suggests_the_field_meant(gateway: RunningGateway) -> None:
    text = "agents:\n  - name: bot\npolicies:\n  - name: p\n    agents: [bot]\n    alow: ['*']\n"
    found = problems_by_field(post_yaml(gateway.admin, "/admin/apply", text))
    problem = found["policies[0].alow"]
    assert problem["message"] == "unknown field 'alow'; did you mean 'allow'?"
    assert (problem["line"], problem["column"]) == (6, 5)


def test_a_mistyped_tool_name_in_a_policy_suggests_the_tool(
    gateway: RunningGateway, weather_upstream: str
) -> None:
    gateway.admin.post("/admin/connectors", json=weather_connector(weather_upstream)).raise_for_status()
    gateway.admin.post("/admin/agents", json={"name": "bot"}).raise_for_status()
    policy = {"policies": [{"name": "p", "agents": ["bot"], "allow": ["weather.curent"]}]}
    found = problems_by_field(gateway.admin.post("/admin/policies", json=policy))
    assert found["policies[0].allow[0]"]["message"] == (
        "'weather.curent' names no known tool; did you mean 'weather.current'?"
    )
    unrelated = {"policies": [{"name": "p", "agents": ["bot"], "allow": ["weather.radar"]}]}
    assert gateway.admin.post("/admin/policies", json=unrelated).status_code == 200, "not a typo: allowed"


def test_a_mistyped_command_suggests_the_command() -> None:
    result = run("agnets", "list")
    assert result.returncode == 2
    assert "did you mean 'agents'?" in result.stderr


def test_yaml_is_read_as_yaml_12(gateway: RunningGateway, weather_upstream: str) -> None:
    text = (
        f"kind: http\nname: weather\nbase_url: {weather_upstream}\nallow_private_network: true\n"
        "tools:\n  - name: current\n    description: d\n    path: /v1/current\n    query: [country]\n"
        "    input_schema:\n      type: object\n      properties:\n"
        "        country: {type: string, enum: [NO, SE, DK]}\n"
    )
    response = post_yaml(gateway.admin, "/admin/connectors", text)
    assert response.status_code == 201, response.text
    [tool] = gateway.admin.get("/admin/connectors/weather/tools").json()
    assert tool["input_schema"]["properties"]["country"]["enum"] == ["NO", "SE", "DK"]
