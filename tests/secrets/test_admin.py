"""/admin/secrets against the real gateway, and the secret check when connectors register."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import SecretStr

from broker.secrets.keys import generate_key
from tests.admin.conftest import error_of, post_yaml, problems_by_field
from tests.conftest import RunningGateway, start_gateway
from tests.secrets.conftest import api_connector

VALUE = "pat-na1-s3cret-0123456789"
INFO_FIELDS = {"name", "kind", "description", "created_at", "updated_at", "last_used_at", "used_by"}


def test_put_list_delete_and_no_response_carries_the_value(keyed_gateway: RunningGateway) -> None:
    admin = keyed_gateway.admin
    created = admin.put(
        "/admin/secrets/api-token", json={"kind": "token", "value": VALUE, "description": "CRM"}
    )
    assert created.status_code == 201, created.text
    assert set(created.json()) == INFO_FIELDS
    assert created.json()["kind"] == "token" and created.json()["last_used_at"] is None
    replaced = admin.put("/admin/secrets/api-token", json={"value": VALUE + "-2"})
    assert replaced.status_code == 200
    assert (replaced.json()["kind"], replaced.json()["description"]) == ("token", "CRM")

    registered = admin.post("/admin/connectors", json=api_connector("https://api.example.invalid"))
    assert registered.status_code == 201, registered.text
    listed = admin.get("/admin/secrets")
    assert [(s["name"], s["used_by"]) for s in listed.json()] == [("api-token", ["api"])]

    in_use = error_of(admin.delete("/admin/secrets/api-token"), 409)
    assert "used by connector(s) api" in in_use["message"]
    assert admin.delete("/admin/secrets/api-token", params={"force": "true"}).status_code == 204
    assert admin.get("/admin/secrets").json() == []
    assert error_of(admin.delete("/admin/secrets/api-token"), 404)["message"].startswith("no secret named")
    for response in (created, replaced, registered, listed):
        assert VALUE not in response.text


def test_without_a_key_secrets_cannot_be_stored_and_the_error_says_how(
    keyless_gateway: RunningGateway,
) -> None:
    gateway = keyless_gateway
    error = error_of(gateway.admin.put("/admin/secrets/k", json={"value": VALUE}), 503)
    assert error["code"] == "not_configured"
    assert "BROKER_SECRET_KEYS" in error["message"] and "broker secrets generate-key" in error["message"]
    assert gateway.admin.get("/admin/secrets").json() == []
    assert error_of(gateway.admin.post("/admin/secrets/rotate-key"), 503)["code"] == "not_configured"


def test_bad_requests_are_refused_without_echoing_the_value(keyed_gateway: RunningGateway) -> None:
    admin = keyed_gateway.admin
    cases = [
        ("bad%20name", {"value": VALUE}, "name"),
        ("k", {"value": VALUE, "kind": "certificate"}, "kind"),
        ("k", {"value": ""}, "value"),
        ("k", {"value": f"{VALUE}\n", "kind": "token"}, "value"),
        ("k", {"value": VALUE, "extra": 1}, "extra"),
        ("k", {"kind": "token"}, "value"),
    ]
    for name, body, field in cases:
        response = admin.put(f"/admin/secrets/{name}", json=body)
        error = error_of(response, 422)
        assert any(field in str(p["loc"]) for p in error["problems"]), (name, body, error)
        assert VALUE not in response.text
    assert admin.get("/admin/secrets").json() == []
    assert error_of(admin.get("/admin/secrets/k"), 404)  # values are never readable, not even by name


CONNECTOR_YAML = """\
kind: http
name: api
base_url: https://api.example.invalid
auth:
  type: bearer
  secret: api-token
  per_agent:
    alice-bot: alice-token
tools:
  - {name: whoami, description: Who am I, path: /bearer}
"""


def test_a_connector_naming_a_missing_secret_is_refused_where_it_names_it(
    keyed_gateway: RunningGateway,
) -> None:
    admin = keyed_gateway.admin
    admin.put("/admin/secrets/api-token", json={"value": VALUE}).raise_for_status()
    response = post_yaml(admin, "/admin/connectors", CONNECTOR_YAML)
    found = problems_by_field(response)
    assert list(found) == ["auth.per_agent.alice-bot"]
    assert found["auth.per_agent.alice-bot"]["line"] == 8
    assert "secret 'alice-token' is not in the secret store" in found["auth.per_agent.alice-bot"]["message"]
    assert "broker secrets add alice-token" in found["auth.per_agent.alice-bot"]["message"]
    admin.put("/admin/secrets/alice-token", json={"value": "other"}).raise_for_status()
    assert post_yaml(admin, "/admin/connectors", CONNECTOR_YAML).status_code == 201


def test_apply_refuses_missing_secrets_with_lines(keyed_gateway: RunningGateway) -> None:
    document = yaml.safe_dump({"connectors": [yaml.safe_load(CONNECTOR_YAML)]}, sort_keys=False)
    found = problems_by_field(post_yaml(keyed_gateway.admin, "/admin/apply", document))
    assert set(found) == {"connectors[0].auth.secret", "connectors[0].auth.per_agent.alice-bot"}
    assert found["connectors[0].auth.secret"]["line"] == 7
    assert keyed_gateway.admin.get("/admin/connectors").json() == []


def test_rotate_key_through_restarts(tmp_path: Path) -> None:
    old, new = generate_key(), generate_key()
    url = f"sqlite:///{tmp_path / 'broker.db'}"

    def run(keys: list[str], *steps: tuple[str, str, dict[str, str] | None, int]) -> list[dict[str, object]]:
        server, gateway = start_gateway(url, secret_keys=SecretStr(",".join(keys)))
        try:
            results = []
            for method, path, body, status in steps:
                response = gateway.admin.request(method, path, json=body)
                assert response.status_code == status, response.text
                results.append(response.json())
            return results
        finally:
            gateway.admin.close()
            server.stop()

    run(
        [old],
        ("PUT", "/admin/secrets/a", {"value": "va"}, 201),
        ("PUT", "/admin/secrets/b", {"value": "vb"}, 201),
    )
    refused = run([new], ("POST", "/admin/secrets/rotate-key", None, 409))[0]
    assert "cannot decrypt the secret(s) a, b" in str(refused)
    assert run([new, old], ("POST", "/admin/secrets/rotate-key", None, 200)) == [{"rotated": 2, "keys": 2}]
    assert run([new], ("POST", "/admin/secrets/rotate-key", None, 200)) == [{"rotated": 2, "keys": 1}]
    assert run([old], ("POST", "/admin/secrets/rotate-key", None, 409))
