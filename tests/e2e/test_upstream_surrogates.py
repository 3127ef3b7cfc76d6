"""An upstream's JSON holding lone surrogates (an escape such as "\\ud800" with no pair, which
Python's `json` reads and no UTF-8 can carry) reaches the agent as U+FFFD, masked and audited,
where the call failed with an internal error when the gateway wrote its answer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.responses import Response
from pydantic import SecretStr

from broker.demo.upstreams.serve import BackgroundServer
from broker.secrets.keys import generate_key
from tests.conftest import start_gateway
from tests.e2e.helpers import mcp_client

BODY = b'{"ref":"r\\ud800-1","note":"call \\udfff me","ok":"\\ud83d\\ude00","k\\udbff":1}'


def upstream() -> FastAPI:
    app = FastAPI()

    @app.get("/odd")
    async def odd() -> Response:
        return Response(content=BODY, media_type="application/json")

    return app


async def test_lone_surrogates_from_an_upstream_reach_the_agent_replaced(
    tmp_path: Path,
) -> None:
    with BackgroundServer(upstream()) as up:
        server, gateway = start_gateway(
            f"sqlite:///{tmp_path / 'broker.db'}",
            secret_keys=SecretStr(generate_key()),
            pii_salt=SecretStr("surrogate-salt-0123456789"),
        )
        try:
            document: dict[str, Any] = {
                "connectors": [
                    {
                        "kind": "http",
                        "name": "up",
                        "base_url": up.url,
                        "allow_private_network": True,
                        "tools": [{"name": "odd", "description": "Odd text.", "path": "/odd"}],
                    }
                ],
                "agents": [{"name": "bot", "team": "t"}],
                "policies": [
                    {
                        "name": "p",
                        "teams": ["t"],
                        "allow": ["up.*"],
                        "masking": {"fields": [{"match": "ref", "operator": "token"}]},
                    }
                ],
            }
            applied = gateway.admin.post("/admin/apply", json=document)
            assert applied.status_code == 200, applied.text
            key = gateway.admin.post("/admin/agents/bot/keys", json={}).json()["key"]
            async with mcp_client(gateway.mcp_url, key) as client:
                result = await client.call_tool("up.odd", {})
            audit = gateway.admin.get("/admin/audit", params={"tool": "up.odd"}).json()
        finally:
            gateway.admin.close()
            server.stop()

    assert not result.is_error, result
    value = result.structured_content
    assert value is not None
    assert value["note"] == "call \ufffd me" and value["ok"] == "\U0001f600" and value["k\ufffd"] == 1
    assert value["ref"].startswith("<PII_") and value["ref"].endswith(">")  # masked by its field rule
    assert [record["outcome"] for record in audit] == ["ok"]
