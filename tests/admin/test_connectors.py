"""/admin/connectors against real demo upstreams."""

from __future__ import annotations

from collections.abc import Iterator

from tests.admin.conftest import error_of, post_yaml, problems_by_field, tool_names, weather_connector
from tests.conftest import RunningGateway


def test_register_list_show_and_remove_an_http_connector(
    gateway: RunningGateway, weather_upstream: str
) -> None:
    admin = gateway.admin
    created = admin.post("/admin/connectors", json=weather_connector(weather_upstream))
    assert created.status_code == 201, created.text
    assert created.json() == {
        "name": "weather",
        "kind": "http",
        "result": "created",
        "tools": ["weather.current"],
        "warnings": [],
    }

    [summary] = admin.get("/admin/connectors").json()
    assert (summary["name"], summary["tool_count"], summary["loaded"]) == ("weather", 1, True)

    [tool] = admin.get("/admin/connectors/weather/tools").json()
    assert tool["name"] == "weather.current"
    assert tool["input_schema"]["required"] == ["city"]
    assert tool["annotations"] == {"readOnlyHint": True}

    detail = admin.get("/admin/connectors/weather").json()
    assert detail["config"]["base_url"] == weather_upstream
    assert [t["name"] for t in detail["tools"]] == ["weather.current"]

    assert admin.delete("/admin/connectors/weather").status_code == 204
    assert admin.get("/admin/connectors").json() == []
    error_of(admin.get("/admin/connectors/weather"), 404)
    error_of(admin.delete("/admin/connectors/weather"), 404)


def test_a_second_registration_needs_replace(gateway: RunningGateway, weather_upstream: str) -> None:
    admin = gateway.admin
    config = weather_connector(weather_upstream)
    assert admin.post("/admin/connectors", json=config).status_code == 201
    assert "already exists" in error_of(admin.post("/admin/connectors", json=config), 409)["message"]

    same = admin.post("/admin/connectors", json=config, params={"replace": "true"})
    assert (same.status_code, same.json()["result"]) == (200, "unchanged")
    changed = admin.post(
        "/admin/connectors", json={**config, "description": "new"}, params={"replace": "true"}
    )
    assert (changed.status_code, changed.json()["result"]) == (200, "updated")
    assert admin.get("/admin/connectors/weather").json()["description"] == "new"


def test_an_openapi_connector_is_imported_from_its_spec_url(
    gateway: RunningGateway, crm_upstream: str
) -> None:
    config = {
        "kind": "openapi",
        "name": "crm",
        "spec_url": f"{crm_upstream}/openapi.json",
        "allow_private_network": True,
        "include": ["*contact*"],
    }
    response = gateway.admin.post("/admin/connectors", json=config)
    assert response.status_code == 201, response.text
    assert response.json()["kind"] == "http"  # stored as the http config it imports to
    assert "crm.get_contact" in response.json()["tools"]
    assert "crm.list_deals" not in response.json()["tools"]
    listed = [t["name"] for t in gateway.admin.get("/admin/connectors/crm/tools").json()]
    assert listed == response.json()["tools"]


def test_registration_time_failures_are_422_with_the_connector_message(gateway: RunningGateway) -> None:
    config = {
        "kind": "openapi",
        "name": "crm",
        "spec_url": "http://127.0.0.1:9/openapi.json",
        "allow_private_network": True,
    }
    error = error_of(gateway.admin.post("/admin/connectors", json=config), 422)
    assert "cannot fetch http://127.0.0.1:9/openapi.json" in error["message"]
    assert gateway.admin.get("/admin/connectors").json() == []


def test_yaml_bodies_report_problems_with_lines(gateway: RunningGateway) -> None:
    text = "kind: http\nname: weather\nbase_url: ftp://nope\ntools: []\ncolour: blue\n"
    found = problems_by_field(post_yaml(gateway.admin, "/admin/connectors", text))
    assert found["base_url"]["line"] == 3
    assert found["tools"]["line"] == 4
    assert found["colour"] == {
        "loc": ["colour"],
        "field": "colour",
        "message": "unknown field 'colour'",
        "line": 5,
        "column": 1,
    }
    typo = problems_by_field(post_yaml(gateway.admin, "/admin/connectors", text.replace("colour", "timout")))
    assert typo["timout"]["message"] == "unknown field 'timout'; did you mean 'timeout_seconds'?"


def test_malformed_bodies_are_client_errors(gateway: RunningGateway) -> None:
    admin = gateway.admin
    [problem] = error_of(post_yaml(admin, "/admin/connectors", "kind: http\nname: [x\n"), 422)["problems"]
    assert problem["line"] == 3
    bad_json = admin.post(
        "/admin/connectors", content=b'{"kind": ', headers={"Content-Type": "application/json"}
    )
    assert error_of(bad_json, 422)["problems"][0]["line"] == 1
    assert "kind" in problems_by_field(admin.post("/admin/connectors", json={"name": "x"}))["kind"]["field"]
    unknown_kind = problems_by_field(admin.post("/admin/connectors", json={"name": "x", "kind": "ftp"}))
    assert "expected tags" in unknown_kind["kind"]["message"]
    wrong_type = problems_by_field(
        admin.post("/admin/connectors", json={**weather_connector("http://x"), "tools": 5})
    )
    assert "tools" in wrong_type
    text_body = admin.post("/admin/connectors", content=b"hi", headers={"Content-Type": "text/plain"})
    assert error_of(text_body, 415)["code"] == "unsupported_media_type"
    binary = admin.post(
        "/admin/connectors", content=b"\xff\xfe", headers={"Content-Type": "application/json"}
    )
    error_of(binary, 422)


def test_oversized_bodies_are_refused_with_413(gateway: RunningGateway) -> None:
    huge = b"x" * (33 * 1024 * 1024)
    response = gateway.admin.post(
        "/admin/connectors", content=huge, headers={"Content-Type": "application/json"}
    )
    assert error_of(response, 413)["code"] == "payload_too_large"

    def chunks() -> Iterator[bytes]:
        for _ in range(40):
            yield b"x" * (1024 * 1024)

    streamed = gateway.admin.post(
        "/admin/agents", content=chunks(), headers={"Content-Type": "application/json"}
    )
    error_of(streamed, 413)


def test_header_values_are_redacted_when_shown(gateway: RunningGateway, weather_upstream: str) -> None:
    config = weather_connector(
        weather_upstream, headers={"Authorization": "Bearer s3cr3t-upstream", "Accept": "x/y"}
    )
    assert gateway.admin.post("/admin/connectors", json=config).status_code == 201
    shown = gateway.admin.get("/admin/connectors/weather")
    assert "s3cr3t" not in shown.text
    assert shown.json()["config"]["headers"] == {"Authorization": "<redacted>", "Accept": "x/y"}


def test_a_registered_connector_is_live_on_mcp_at_once(
    gateway: RunningGateway, weather_upstream: str
) -> None:
    key = gateway.create_agent("bot")
    gateway.admin.post(
        "/admin/policies", json={"policies": [{"name": "p", "agents": ["bot"], "allow": ["*"]}]}
    )
    assert (
        gateway.admin.post("/admin/connectors", json=weather_connector(weather_upstream)).status_code == 201
    )
    catalog = gateway.admin.get("/admin/tools", params={"agent": "bot"}).json()
    assert [t["name"] for t in catalog["tools"] if t["visible"]] == ["weather.current"]
    assert tool_names(gateway, key) == ["weather.current"]
