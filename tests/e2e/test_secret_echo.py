"""An upstream that echoes the credential it was sent, in any encoding, never gets it to the
agent, the shared cache (Redis), the audit trail or the log: a real gateway, a real local
upstream, a real MCP client."""

from __future__ import annotations

import base64
import json
import logging
import re
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote, quote_plus, unquote, unquote_plus

import pytest
import redis
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import SecretStr

from broker.demo.upstreams.serve import BackgroundServer
from broker.secrets.keys import generate_key
from tests.conftest import RunningGateway, redis_test_url, start_gateway
from tests.e2e.helpers import mcp_client

SECRET = "Sh4red/s3cret+&=value~1234"
REDIS_URL = redis_test_url()  # keys are named per test (the connector name): no flush needed


def _all_escaped(text: str) -> str:
    return "".join(f"\\u{ord(ch):04x}" for ch in text)


def _inside(prefix: str) -> Callable[[str], str]:
    """The value inside a longer base64 text, after `prefix` (each length mod 3 is another offset)."""
    return lambda value: base64.b64encode(f'{prefix}{value}","exp":1}}'.encode()).decode()


ENCODINGS: dict[str, Callable[[str], str]] = {
    "plain": lambda v: v,
    "base64": lambda v: base64.b64encode(v.encode()).decode(),
    "base64-nopad": lambda v: base64.b64encode(v.encode()).decode().rstrip("="),
    "base64url": lambda v: base64.urlsafe_b64encode(v.encode()).decode(),
    "base64url-nopad": lambda v: base64.urlsafe_b64encode(v.encode()).decode().rstrip("="),
    "basic-pair-0": _inside("bob:"),  # 4 bytes before: offset 1
    "basic-pair-1": _inside("ab:"),  # offset 0
    "basic-pair-2": _inside("reports:"),  # offset 2
    "hex": lambda v: v.encode().hex(),
    "HEX": lambda v: v.encode().hex().upper(),
    "url": lambda v: quote(v, safe=""),
    "url-plus": quote_plus,
    "url-lower": lambda v: re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), quote(v, safe="")),
    "json-u": _all_escaped,
    "json-slashes": lambda v: json.dumps(v)[1:-1].replace("/", "\\/"),
}


def echo_app() -> FastAPI:
    app = FastAPI()

    def seen(request: Request, encoding: str) -> str:
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        return ENCODINGS[encoding](token)

    @app.get("/echo/{encoding}")
    async def echo(encoding: str, request: Request) -> object:
        return {"encoding": encoding, "seen": seen(request, encoding)}

    @app.get("/fail/{encoding}")
    async def fail(encoding: str, request: Request) -> object:
        return JSONResponse({"message": f"bad token {seen(request, encoding)}"}, 400)

    return app


def reveals(text: str) -> list[str]:
    """How `text` reveals SECRET: decoded in every way an attacker would try."""
    found = []
    unescaped = text
    for _ in range(3):  # JSON inside JSON: undo a level of escaping at a time
        unescaped = re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), unescaped)
        unescaped = unescaped.replace("\\\\", "\\").replace("\\/", "/")
    for name, candidate in (
        ("plain", text),
        ("url", unquote(text)),
        ("url-plus", unquote_plus(text)),
        ("json", unescaped),
    ):
        if SECRET in candidate:
            found.append(name)
    raw = SECRET.encode()
    for run in re.findall(r"[A-Za-z0-9+/_-]{8,}", text):
        for skip in range(4):
            piece = run[skip:]
            piece = piece[: len(piece) - (len(piece) % 4 == 1)]
            piece += "=" * (-len(piece) % 4)
            for decode in (base64.b64decode, base64.urlsafe_b64decode):
                try:
                    if raw in decode(piece):
                        found.append(f"base64:{run}")
                except ValueError:
                    pass
    for run in re.findall(r"[0-9a-fA-F]{16,}", text):
        for skip in range(2):
            piece = run[skip:]
            if raw in bytes.fromhex(piece[: len(piece) - len(piece) % 2]):
                found.append(f"hex:{run}")
    return found


def test_the_oracle_sees_every_encoding() -> None:
    for encoding, encode in ENCODINGS.items():
        assert reveals(f'{{"seen":"{encode(SECRET)}"}}'), encoding


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[tuple[RunningGateway, str, str]]:
    name = f"echo{uuid.uuid4().hex[:8]}"
    with BackgroundServer(echo_app()) as upstream:
        server, gateway = start_gateway(
            f"sqlite:///{tmp_path / 'broker.db'}",
            secret_keys=SecretStr(generate_key()),
            redis_url=REDIS_URL,
            cache_backend="redis",
        )
        try:
            assert gateway.admin.put("/admin/secrets/echo-token", json={"value": SECRET}).status_code == 201
            schema = {
                "type": "object",
                "properties": {"encoding": {"type": "string"}},
                "required": ["encoding"],
            }
            document = {
                "connectors": [
                    {
                        "kind": "http",
                        "name": name,
                        "base_url": upstream.url,
                        "allow_private_network": True,
                        "auth": {"type": "bearer", "secret": "echo-token"},
                        "tools": [
                            {
                                "name": "echo",
                                "description": "Echo.",
                                "path": "/echo/{encoding}",
                                "input_schema": schema,
                            },
                            {
                                "name": "fail",
                                "description": "Fail.",
                                "path": "/fail/{encoding}",
                                "input_schema": schema,
                            },
                        ],
                    }
                ],
                "agents": [{"name": "echo-bot"}],
                "policies": [
                    {
                        "name": "echo",
                        "agents": ["echo-bot"],
                        "allow": [f"{name}.*"],
                        "cache": {f"{name}.echo": {"ttl_seconds": 300, "shared": True}},
                    }
                ],
            }
            applied = gateway.admin.post("/admin/apply", json=document)
            assert applied.status_code == 200, applied.text
            key = gateway.admin.post("/admin/agents/echo-bot/keys", json={}).json()["key"]
            yield gateway, name, key
        finally:
            gateway.admin.close()
            server.stop()
            client = redis.Redis.from_url(REDIS_URL)
            for found in client.scan_iter(f"broker:cache*:v1:{name}.*"):
                client.delete(found)


async def test_no_encoding_of_an_echoed_secret_gets_through(
    gateway: tuple[RunningGateway, str, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    running, name, key = gateway
    seen: dict[str, str] = {}
    async with mcp_client(running.mcp_url, key) as client:
        for encoding in ENCODINGS:
            for tool in ("echo", "echo", "fail"):  # the second echo is served from the cache
                result = await client.call_tool(f"{name}.{tool}", {"encoding": encoding})
                assert bool(result.is_error) == (tool == "fail"), result
                seen[f"{tool}:{encoding}"] = result.model_dump_json()
    echoed = json.loads(seen["echo:base64"])["structured_content"]["seen"]
    assert "***" in echoed  # the upstream did answer, with the value blanked out
    leaks = {where: found for where, text in seen.items() if (found := reveals(text))}
    assert leaks == {}

    cached = [
        value.decode()
        for found in redis.Redis.from_url(REDIS_URL).scan_iter(f"broker:cache:v1:{name}.*")
        if (value := redis.Redis.from_url(REDIS_URL).get(found))
    ]
    assert len(cached) == len(ENCODINGS)
    assert [reveals(text) for text in cached if reveals(text)] == []

    audit = running.admin.get("/admin/audit", params={"limit": 500}).text
    assert f"{name}.fail" in audit and reveals(audit) == []
    assert reveals(caplog.text) == []
