"""A large catalog is listed in pages: every granted tool exactly once, in order, in both eras."""

from __future__ import annotations

import pytest
from mcp.shared.exceptions import MCPError

from broker.mcp.pages import PAGE_SIZE
from tests.conftest import RunningGateway
from tests.e2e.helpers import MODES, mcp_client

TOOLS = PAGE_SIZE * 2 + 7
SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}


@pytest.fixture
def big_catalog(gateway: RunningGateway) -> tuple[RunningGateway, str]:
    tools = [
        {"name": f"t{n:04d}", "description": f"variant {n}", "path": "/v1/current", "input_schema": SCHEMA}
        for n in range(TOOLS)
    ]
    config = {"kind": "http", "name": "many", "base_url": "http://127.0.0.1:9", "tools": tools}
    gateway.admin.post("/admin/connectors", json=config | {"allow_private_network": True}).raise_for_status()
    key = gateway.create_agent("lister")
    policy = {"name": "lister", "agents": ["lister"], "allow": ["many.*"], "deny": ["many.t0003"]}
    gateway.admin.post("/admin/policies", json={"policies": [policy]}).raise_for_status()
    return gateway, key


@pytest.mark.parametrize("mode", MODES)
async def test_pages_cover_the_granted_tools_once_in_order(
    big_catalog: tuple[RunningGateway, str], mode: str
) -> None:
    gateway, key = big_catalog
    names: list[str] = []
    pages = 0
    cursor: str | None = None
    async with mcp_client(gateway.mcp_url, key, mode=mode) as client:
        while True:
            page = await client.list_tools(cursor=cursor)
            pages += 1
            names += [tool.name for tool in page.tools]
            assert all(tool.input_schema == SCHEMA for tool in page.tools)
            cursor = page.next_cursor
            if cursor is None:
                break
    expected = [f"many.t{n:04d}" for n in range(TOOLS) if n != 3]
    assert names == expected
    assert pages == 3


async def test_a_cursor_it_did_not_issue_is_invalid_params(big_catalog: tuple[RunningGateway, str]) -> None:
    gateway, key = big_catalog
    async with mcp_client(gateway.mcp_url, key) as client:
        with pytest.raises(MCPError) as caught:
            await client.list_tools(cursor="not-a-cursor")
    assert caught.value.error.code == -32602
    assert "Invalid cursor for tools/list" in caught.value.error.message
