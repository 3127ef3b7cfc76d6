"""What the admin API shows of a connector's config: never credential-like values."""

from __future__ import annotations

import sys

from tests.conftest import RunningGateway


def test_a_stdio_servers_environment_values_are_not_shown(gateway: RunningGateway) -> None:
    config = {
        "kind": "mcp",
        "name": "docs",
        "transport": "stdio",
        "command": [sys.executable, "-m", "broker.demo.upstreams.docs_mcp"],
        "env": {"DOCS_API_KEY": "plain-env-value-0123456789"},
    }
    created = gateway.admin.post("/admin/connectors", json=config)
    assert created.status_code == 201, created.text
    shown = gateway.admin.get("/admin/connectors/docs")
    assert shown.status_code == 200
    assert "plain-env-value-0123456789" not in shown.text
    assert list(shown.json()["config"]["env"]) == ["DOCS_API_KEY"]
