"""Registering a big connector is prepared in a worker process, and the gateway goes on serving."""

from __future__ import annotations

import pickle
import threading
import time
from typing import Any

import httpx
import yaml
from sqlalchemy import Connection, Engine, event

from broker import offload
from broker.errors import InsufficientScope, InvalidInput, Problem
from tests.admin.conftest import error_of
from tests.conftest import RunningGateway
from tests.connectors import specgen


def test_an_inline_openapi_import_is_prepared_in_a_worker_process(gateway: RunningGateway) -> None:
    before = offload.finished
    response = gateway.admin.post(
        "/admin/connectors",
        json={
            "kind": "openapi",
            "name": "gh",
            "base_url": "https://api.example.com",
            "spec": specgen.github_like(60),
        },
        timeout=300,  # the first worker process may still be starting on a busy machine
    )
    assert response.status_code == 201, response.text
    assert len(response.json()["tools"]) == 60
    assert offload.finished > before
    stored = gateway.admin.get("/admin/connectors/gh").json()
    assert stored["kind"] == "http" and stored["tool_count"] == 60 and stored["loaded"]
    [change] = gateway.admin.get("/admin/changes", params={"limit": 1}).json()
    assert change["path"] == "/admin/connectors" and change["status"] == 201
    assert change["after"] == {"truncated": True, "bytes": int(response.request.headers["content-length"])}
    again = gateway.admin.post(
        "/admin/connectors",
        params={"replace": "true"},
        json={
            "kind": "openapi",
            "name": "gh",
            "base_url": "https://api.example.com",
            "spec": specgen.github_like(60),
        },
    )
    assert again.json()["result"] == "unchanged"  # compared as stored text, not parsed again


def test_errors_of_a_worker_process_keep_their_located_problems(gateway: RunningGateway) -> None:
    spec = specgen.github_like(3)
    spec["openapi"] = "2.0"
    response = gateway.admin.post(
        "/admin/connectors",
        content=f"kind: openapi\nname: gh\nbase_url: https://api.example.com\nspec: {spec!r}\n".replace(
            "'", '"'
        ),
        headers={"Content-Type": "application/yaml"},
    )
    error = error_of(response, 422)
    assert "3.0.x or 3.1.x" in error["problems"][0]["message"]
    assert error["problems"][0]["field"] == "spec" and error["problems"][0]["line"] == 4


def test_healthz_answers_while_a_big_import_is_in_progress(gateway: RunningGateway) -> None:
    body = {
        "kind": "openapi",
        "name": "big",
        "base_url": "https://api.example.com",
        "spec": specgen.github_like(150),  # ~1.5 MB: the worker path, and seconds of work to poll through
    }
    done = threading.Event()
    answered_during: list[int] = []

    def register() -> None:
        try:
            gateway.admin.post("/admin/connectors", json=body, timeout=300).raise_for_status()
        finally:
            done.set()

    thread = threading.Thread(target=register)
    thread.start()
    with httpx.Client(base_url=gateway.url, timeout=60) as client:
        while not done.is_set():
            status = client.get("/healthz").status_code
            if not done.is_set():
                answered_during.append(status)
            time.sleep(0.05)  # polling, not flooding: the gateway and the import share the GIL and 2 cores
    thread.join()
    assert answered_during and set(answered_during) == {200}
    assert gateway.admin.get("/admin/connectors/big").json()["tool_count"] == 150


def test_broker_errors_cross_a_process_boundary_whole() -> None:
    error = InvalidInput("bad", problems=[Problem(("spec", "paths"), "missing", 3, 4)])
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is InvalidInput and copy.message == "bad" and copy.problems == error.problems
    scoped = pickle.loads(pickle.dumps(InsufficientScope("needs more", ["admin"])))
    assert scoped.scopes == ["admin"] and scoped.status_code == 403


def _big_connector() -> dict[str, object]:
    return {
        "kind": "openapi",
        "name": "gh",
        "base_url": "https://api.example.com",
        "spec": specgen.github_like(60),
    }


def _big_document(**extra: object) -> dict[str, object]:
    return {"connectors": [_big_connector()], "agents": [{"name": "ops-bot"}], **extra}


def test_an_applied_document_is_prepared_in_a_worker_process(gateway: RunningGateway) -> None:
    before = offload.finished
    first = gateway.admin.post("/admin/apply", json=_big_document(), timeout=300)
    assert first.status_code == 200, first.text
    assert first.json()["connectors"]["created"] == ["gh"]
    assert offload.finished > before
    stored = gateway.admin.get("/admin/connectors/gh").json()
    assert stored["kind"] == "http" and stored["tool_count"] == 60 and stored["loaded"]
    again = gateway.admin.post("/admin/apply", json=_big_document(), timeout=300).json()
    assert again["changed"] is False and again["connectors"]["unchanged"] == ["gh"]
    registered = gateway.admin.post(  # the same config through /admin/connectors: the same stored text
        "/admin/connectors", params={"replace": "true"}, json=_big_connector(), timeout=300
    )
    assert registered.json()["result"] == "unchanged"


def test_problems_found_after_a_big_document_was_read_are_located(gateway: RunningGateway) -> None:
    document = _big_document(policies=[{"name": "ops", "agents": ["ops-bot", "ghost"], "allow": ["gh.*"]}])
    text = yaml.safe_dump(document, sort_keys=False)
    response = gateway.admin.post(
        "/admin/apply", content=text, headers={"Content-Type": "application/yaml"}, timeout=300
    )
    [problem] = error_of(response, 422)["problems"]
    assert problem["field"] == "policies[0].agents[1]"
    assert text.splitlines()[problem["line"] - 1].strip() == "- ghost"
    assert gateway.admin.get("/admin/connectors").json() == []


def test_listing_connectors_reads_no_stored_config(gateway: RunningGateway) -> None:
    """A stored config may be megabytes (a thousand imported tools): the listing, which every
    connector registration also reads for the change log, takes only what it shows."""
    connector = {**_big_connector(), "description": "GitHub, generated"}
    gateway.admin.post("/admin/connectors", json=connector, timeout=300).raise_for_status()
    columns: list[str] = []

    def seen(conn: Connection, cursor: Any, statement: str, *_args: object) -> None:
        # this gateway's listing only (the one query of its connectors in name order that has no
        # WHERE), not a refresh of its catalog nor another test's gateway still stopping
        ours = conn.engine.url.render_as_string() == gateway.database_url
        if ours and "FROM connectors ORDER BY" in " ".join(statement.split()):
            columns.extend(column[0] for column in cursor.description or ())

    event.listen(Engine, "after_cursor_execute", seen)
    try:
        [listed] = gateway.admin.get("/admin/connectors").json()
    finally:
        event.remove(Engine, "after_cursor_execute", seen)
    assert listed["description"] == "GitHub, generated" and listed["tool_count"] == 60 and listed["loaded"]
    assert columns and "config" not in columns


def _policies(count: int, *extra: dict[str, object]) -> dict[str, object]:
    made = (
        {"name": f"p{i}", "teams": [f"team-{j}" for j in range(30)], "allow": [], "deny": ["*"]}
        for i in range(count)
    )
    return {"policies": [*made, *extra]}


def test_a_big_policies_document_is_validated_in_a_worker_process(gateway: RunningGateway) -> None:
    before = offload.finished
    response = gateway.admin.post("/admin/policies", json=_policies(1000), timeout=300)
    assert response.status_code == 200, response.text
    assert offload.finished > before
    assert len(gateway.admin.get("/admin/policies").json()["policies"]) == 1000


def test_problems_of_a_big_policies_document_are_located(gateway: RunningGateway) -> None:
    text = yaml.safe_dump(
        _policies(1000, {"name": "last", "agents": ["ghost"], "allow": [], "deny": ["*"]}), sort_keys=False
    )
    response = gateway.admin.post(
        "/admin/policies", content=text, headers={"Content-Type": "application/yaml"}, timeout=300
    )
    [problem] = error_of(response, 422)["problems"]
    assert problem["field"] == "policies[1000].agents[0]"
    assert text.splitlines()[problem["line"] - 1].strip() == "- ghost"
