"""A big upstream's tools/list (hundreds of tools, ~10 MB at a thousand) is parsed and validated
in pieces with the event loop free between them, and reads exactly as the SDK reads it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from types import FrameType
from typing import Any

import mcp_types as types
import pytest
from mcp.client.client import Client
from mcp.client.session import IncomingMessage
from mcp.server import Server

from broker.demo.upstreams.serve import BackgroundServer
from connectors.mcp import McpConnector, McpConnectorConfig
from connectors.mcp.listing import CHARS_PER_SLICE, TOOLS_PER_SLICE, list_tools_page, loads
from connectors.mcp.session import http_opener

PAGE = 4 * TOOLS_PER_SLICE
PAGES = 2
"""Pages of PAGE tools (one cursor followed)."""


def big_tool(index: int) -> types.Tool:
    fields = {
        f"f{n}": {"type": "string", "description": f"Field {n} of kind {index}. " + "é ☃ " * 20}
        for n in range(40)
    }
    return types.Tool(
        name=f"tool_{index:03d}",
        title=f"Tool {index}" if index % 2 else None,
        description=f"Reads records of kind {index}. " * 8,
        input_schema={"type": "object", "properties": fields, "required": ["f0"]},
        output_schema={"type": "object", "properties": {"n": {"type": "integer"}}} if index % 3 else None,
        annotations=types.ToolAnnotations(read_only_hint=bool(index % 2)),
    )


@pytest.fixture(scope="module")
def big_upstream() -> Iterator[str]:
    """An upstream listing PAGE * PAGES tools of ~6 KB in PAGES pages of over twice CHARS_PER_SLICE."""
    tools = [big_tool(n) for n in range(PAGE * PAGES)]

    async def list_tools(ctx: Any, params: types.PaginatedRequestParams | None) -> types.ListToolsResult:
        start = int(params.cursor) if params is not None and params.cursor else 0
        end = start + PAGE
        return types.ListToolsResult(
            tools=tools[start:end], next_cursor=str(end) if end < len(tools) else None
        )

    server: Server[Any] = Server("big", on_list_tools=list_tools)
    app = server.streamable_http_app(json_response=True, stateless_http=True)
    with BackgroundServer(app) as running:
        yield f"{running.url}/mcp"


@contextlib.asynccontextmanager
async def client_of(url: str, *, legacy: bool = False) -> AsyncIterator[Client]:
    """The connector's own session client (lean posts installed), 2026-07-28 or 2025-11-25."""

    async def on_message(message: IncomingMessage) -> None:
        return None

    async with AsyncExitStack() as stack:
        opener = http_opener(url, {}, 30, 1 << 24, lambda _: None, allow_private_network=True, legacy=legacy)
        yield await opener(stack, on_message, lambda: None)


def test_loads_reads_json_as_json_loads_does() -> None:
    documents = [
        {
            "jsonrpc": "2.0",
            "id": 7,
            "result": {"tools": [big_tool(n).model_dump(by_alias=True) for n in range(400)]},
        },
        {
            "a": [[], {}, [1, 2.5, -3e8, True, False, None, '\\"\u2603\ud83d\ude00']],
            "": {"x": {"y": [{"z": [0]}]}},
        },
        [],
        "text",
        12,
    ]
    for document in documents:
        for text in (json.dumps(document), json.dumps(document, indent=3, ensure_ascii=False)):
            assert asyncio.run(loads(f" \n{text}\t ")) == json.loads(text)
    assert len(json.dumps(documents[0])) > 2 * CHARS_PER_SLICE  # parsed in several pieces
    duplicate = '{"k": 1, "k": {"k": [2]}}'
    assert asyncio.run(loads(duplicate)) == json.loads(duplicate)


@pytest.mark.parametrize(
    "text",
    [
        '{"a": 1,}',
        '{"a" 1}',
        "[1 2]",
        '{"a": [1, 2]} x',
        "{'a': 1}",
        '{"a": NaN}',
        "[Infinity]",
        "",
        "[",
        '{"a"',
    ],
)
def test_loads_refuses_what_is_not_json(text: str) -> None:
    with pytest.raises(ValueError):
        asyncio.run(loads(text))


async def test_a_page_reads_as_the_sdk_reads_it(big_upstream: str) -> None:
    async with client_of(big_upstream) as modern, client_of(big_upstream, legacy=True) as legacy:
        for client in (modern, legacy):
            sdk = await client.list_tools(cursor=str(PAGE))
            ours = await list_tools_page(client, str(PAGE))
            assert ours.model_dump() == sdk.model_dump()
            assert [tool.name for tool in ours.tools] == [f"tool_{n:03d}" for n in range(PAGE, 2 * PAGE)]


@contextlib.contextmanager
def steps_on_this_thread(events: list[str | int]) -> Iterator[None]:
    """Record, on the calling thread (the loop's), each piece of the big listing's JSON text
    decoded ('parse') and the number of tools in each validation of a tools/list result."""

    def profile(frame: FrameType, event: str, _arg: Any) -> None:
        if event != "call":
            return
        name, local = frame.f_code.co_name, frame.f_locals
        if name == "raw_decode" and len(local.get("s", "")) > CHARS_PER_SLICE:
            events.append("parse")
        elif name == "validate_server_result" and local.get("method") == "tools/list":
            events.append(len(local["data"].get("tools", [])))

    sys.setprofile(profile)
    try:
        yield
    finally:
        sys.setprofile(None)


async def test_other_tasks_run_while_a_big_listing_is_read(big_upstream: str) -> None:
    config = McpConnectorConfig.model_validate(
        {
            "kind": "mcp",
            "name": "big",
            "transport": "http",
            "url": big_upstream,
            "allow_private_network": True,
            "max_response_bytes": 1 << 24,
        }
    )
    events: list[str | int] = []

    async def ticker() -> None:
        while True:
            events.append("tick")
            await asyncio.sleep(0)

    unpinned = config.model_copy(update={"tools": [], "pins": {}})  # as registration's probe lists
    async with McpConnector(unpinned) as connector:
        ticking = asyncio.create_task(ticker())
        try:
            with steps_on_this_thread(events):
                live = await connector.live_tools()
        finally:
            ticking.cancel()
    assert [tool.name for tool in live] == [f"tool_{n:03d}" for n in range(PAGE * PAGES)]
    runs: list[list[str | int]] = [[]]  # what ran on the loop between two turns of the ticker
    for event in events:
        if event == "tick":
            runs.append([])
        else:
            runs[-1].append(event)
    parsed = [run.count("parse") for run in runs]
    validated = [sum(event for event in run if isinstance(event, int)) for run in runs]
    assert sum(parsed) >= PAGE * PAGES, "each tool is a piece of JSON text of its own"
    assert max(parsed) < PAGE, "a whole page's JSON text was parsed without a pause"
    assert sum(validated) == PAGE * PAGES
    assert max(validated) < PAGE, "a whole page's tools were validated without a pause"
