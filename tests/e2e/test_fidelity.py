"""Protocol fidelity through the gateway (issue 9, item 8): an upstream's 2026-07-28 answer that
omits a field the revision requires is normalised, not rejected; result `_meta` is preserved; an
invalid request is -32600 and a bad cursor -32602; a big upstream's listing is kept, not fetched
again before every call, and refreshed on `list_changed`."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import mcp_types as types
import pytest
from mcp.shared.exceptions import MCPError
from pydantic import ValidationError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from broker.demo.upstreams.serve import BackgroundServer
from tests.conftest import RunningGateway, start_gateway
from tests.connectors.mcp.upstream import PAGE_SIZE, Catalog, create_app, notify
from tests.e2e.catalog_upstream import Counter, build_app
from tests.e2e.helpers import MODES, mcp_client

UPSTREAM_META = {"example.com/upstream": "kept"}
REQUIRED_2026 = ("resultType", "ttlMs", "cacheScope")


class Careless:
    """An upstream front that drops what 2026-07-28 requires of results (`resultType`, `ttlMs`,
    `cacheScope`) and adds a `_meta` entry of its own, in JSON and SSE answers alike."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start: Message | None = None

        async def rewrite(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
                return
            body = _careless(message.get("body", b""))
            if start is not None:
                headers = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
                if not message.get("more_body"):
                    headers.append((b"content-length", str(len(body)).encode()))
                await send({**start, "headers": headers})
                start = None
            await send({**message, "body": body})

        await self.app(scope, receive, rewrite)


def _careless(body: bytes) -> bytes:
    if body.startswith(b"{"):
        return _strip(body)
    lines = [
        b"data: " + _strip(line[6:]) if line.startswith(b"data: {") else line for line in body.split(b"\n")
    ]
    return b"\n".join(lines)


def _strip(text: bytes) -> bytes:
    message = json.loads(text)
    result = message.get("result") if isinstance(message, dict) else None
    if not isinstance(result, dict):
        return text
    for name in REQUIRED_2026:
        result.pop(name, None)
    result["_meta"] = {**result.get("_meta", {}), **UPSTREAM_META}
    return json.dumps(message).encode()


@pytest.fixture(scope="module")
def careless_upstream() -> Iterator[str]:
    with BackgroundServer(Careless(build_app(Counter()))) as upstream:
        yield f"{upstream.url}/mcp"


@pytest.fixture(scope="module")
def gateway(
    tmp_path_factory: pytest.TempPathFactory, careless_upstream: str
) -> Iterator[tuple[RunningGateway, str]]:
    path: Path = tmp_path_factory.mktemp("fidelity")
    server, gateway = start_gateway(f"sqlite:///{path / 'broker.db'}")
    try:
        connector = {
            "kind": "mcp",
            "name": "careless",
            "transport": "http",
            "url": careless_upstream,
            "allow_private_network": True,
        }
        response = gateway.admin.post("/admin/connectors", json=connector)
        assert response.status_code == 201, response.text
        key = gateway.create_agent("faithful")
        policy = {
            "name": "all",
            "agents": ["faithful"],
            "allow": ["*"],
            "resources": {"allow": ["*"]},
            "prompts": {"allow": ["*"]},
        }
        assert gateway.admin.post("/admin/policies", json={"policies": [policy]}).status_code < 300
        yield gateway, key
    finally:
        gateway.admin.close()
        server.stop()


async def test_the_sdk_alone_rejects_the_careless_upstream(careless_upstream: str) -> None:
    """The fixture really omits what 2026-07-28 requires: a direct SDK client refuses the answer."""
    refused = False
    try:
        async with mcp_client(careless_upstream, None) as client:
            await client.call_tool("echo", {"text": "hi"})
    except* ValidationError as group:
        refused = any("resultType" in str(error) for error in _leaves(group))
    assert refused


def _leaves(error: BaseException) -> Iterator[BaseException]:
    if isinstance(error, BaseExceptionGroup):
        for inner in error.exceptions:
            yield from _leaves(inner)
    else:
        yield error


@pytest.mark.parametrize("mode", MODES)
async def test_answers_missing_2026_fields_are_normalised_and_meta_kept(
    gateway: tuple[RunningGateway, str], mode: str
) -> None:
    running, key = gateway
    async with mcp_client(running.mcp_url, key, mode=mode) as client:
        called = await client.call_tool("careless.echo", {"text": "hi"})
        assert not called.is_error and called.meta is not None
        assert called.meta.get("example.com/upstream") == "kept"

        read = await client.read_resource("broker://careless/notes://contact")
        assert read.contents and read.meta is not None and read.meta.get("example.com/upstream") == "kept"

        got = await client.get_prompt("careless.greet", {"name": "Ada"})
        assert got.messages and got.meta is not None and got.meta.get("example.com/upstream") == "kept"

        done = await client.complete(
            types.PromptReference(type="ref/prompt", name="careless.greet"), {"name": "name", "value": "A"}
        )
        assert done.completion.values == ["Ada", "Alan"]
        assert "careless.greet" in [p.name for p in (await client.list_prompts()).prompts]


@pytest.mark.parametrize("mode", MODES)
async def test_a_bad_cursor_is_invalid_params_on_every_list(
    gateway: tuple[RunningGateway, str], mode: str
) -> None:
    running, key = gateway
    async with mcp_client(running.mcp_url, key, mode=mode) as client:
        for listing in (
            client.list_tools,
            client.list_resources,
            client.list_resource_templates,
            client.list_prompts,
        ):
            with pytest.raises(MCPError) as refused:
                await listing(cursor="not-a-cursor")
            assert refused.value.error.code == types.INVALID_PARAMS
            assert "cursor" in refused.value.error.message


@pytest.mark.parametrize("version", ["2025-11-25", "2026-07-28"])
@pytest.mark.parametrize(
    "body",
    [
        {"jsonrpc": "2.0", "id": 1},
        {"jsonrpc": "1.0", "id": 1, "method": "tools/list"},
        {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": "not an object"},
        {"jsonrpc": "2.0", "id": 1, "method": 42},
    ],
)
def test_an_invalid_request_is_32600_not_32602(
    gateway: tuple[RunningGateway, str], version: str, body: dict[str, Any]
) -> None:
    running, key = gateway
    headers = {
        "Authorization": f"Bearer {key}",
        "Accept": "application/json, text/event-stream",
        "Content-Type": "application/json",
        "MCP-Protocol-Version": version,
    }
    response = httpx.post(running.mcp_url, headers=headers, content=json.dumps(body), timeout=30)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == types.INVALID_REQUEST, error
    assert "Validation error" not in error["message"]


async def test_a_big_upstreams_listing_is_kept_and_refreshed_on_list_changed(tmp_path: Path) -> None:
    catalog = Catalog()
    for number in range(40):
        name = f"extra_{number}"
        catalog.tools[name] = types.Tool(
            name=name, description="An extra tool.", input_schema={"type": "object"}
        )
    pages = -(-len(catalog.tools) // PAGE_SIZE)
    with BackgroundServer(create_app(catalog), shutdown_timeout=1) as upstream:
        server, gateway = start_gateway(f"sqlite:///{tmp_path / 'broker.db'}")
        try:
            connector = {
                "kind": "mcp",
                "name": "big",
                "transport": "http",
                "url": f"{upstream.url}/mcp",
                "allow_private_network": True,
                "expose_new_tools": True,
            }
            assert gateway.admin.post("/admin/connectors", json=connector).status_code == 201
            key = gateway.create_agent("caller")
            policy = {"name": "all", "agents": ["caller"], "allow": ["big.*"]}
            assert gateway.admin.post("/admin/policies", json={"policies": [policy]}).status_code < 300
            async with mcp_client(gateway.mcp_url, key) as client:
                await client.call_tool("big.echo", {"text": "hi"})  # the first call may list (a new session)
                before = catalog.listings
                for _ in range(10):
                    assert not (await client.call_tool("big.echo", {"text": "hi"})).is_error
                # Ten calls: at most one listing (the background refresh may fall in), never one per call.
                assert catalog.listings - before <= pages, (catalog.listings - before, pages)

                catalog.tools["fresh"] = types.Tool(
                    name="fresh", description="New.", input_schema={"type": "object"}
                )
                before = catalog.listings
                notify(upstream.url)
                deadline = time.monotonic() + 20
                while time.monotonic() < deadline:
                    if "big.fresh" in [tool.name for tool in (await client.list_tools()).tools]:
                        break
                    await asyncio.sleep(0.1)
                assert "big.fresh" in [tool.name for tool in (await client.list_tools()).tools]
                assert catalog.listings >= before + pages  # list_changed brought one full listing
        finally:
            gateway.admin.close()
            server.stop()
