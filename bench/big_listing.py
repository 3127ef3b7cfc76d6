"""Re-listing a big upstream MCP server: how long the gateway's event loop stalls meanwhile.

Run it from the project root:

    .venv/bin/python bench/big_listing.py
    .venv/bin/python bench/big_listing.py --tools 1000 --repeat 5

The upstream (the SDK's low-level `Server`, Streamable HTTP, 2026-07-28, JSON answers) runs in a
process of its own and lists `--tools` tools of ~8.5 KB each (~9 MB of JSON). In this process an
`McpConnector` of it (`recheck_seconds: 0`) calls a tool `--repeat` times, each call re-listing
the upstream first (the tools/list page read and validated, the definitions dumped, hashed and
scanned, the pins compared), while a probe task sleeps 1 ms and records how late it woke.
After a first listing, what exists is frozen out of the collector's sight as the gateway does
at start-up (broker/heap.py); a full collection during a re-list still walks what it made.
Printed per call: its duration and the longest stall seen.
The machine is shared and noisy: the load average at start is printed with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def tool(index: int) -> dict[str, Any]:
    """~8.5 KB: thirty described string fields, a long description."""
    fields = {
        f"field_{n}": {
            "type": "string",
            "description": f"Field {n} of record kind {index}. " + "Lorem ipsum " * 18,
        }
        for n in range(30)
    }
    return {
        "name": f"tool_{index:04d}",
        "description": f"Tool {index}: reads and updates records of kind {index}. " * 30,
        "inputSchema": {"type": "object", "properties": fields, "required": ["field_0"]},
    }


def serve(port: int, count: int) -> None:
    import mcp_types as types
    import uvicorn
    from mcp.server import Server

    tools = [types.Tool.model_validate(tool(n)) for n in range(count)]

    async def list_tools(ctx: Any, params: types.PaginatedRequestParams | None) -> types.ListToolsResult:
        return types.ListToolsResult(tools=tools)

    async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        return types.CallToolResult(content=[types.TextContent(type="text", text="done")])

    server: Server[Any] = Server("big-upstream", on_list_tools=list_tools, on_call_tool=call_tool)
    app = server.streamable_http_app(json_response=True, stateless_http=True)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def wait_up(port: int) -> None:
    for _ in range(300):
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            await asyncio.sleep(0.1)
    raise SystemExit("the upstream did not start")


async def measure(port: int, repeat: int) -> None:
    from broker import heap
    from connectors.mcp import McpConnector, McpConnectorConfig, prepare_mcp

    config = McpConnectorConfig.model_validate(
        {
            "kind": "mcp",
            "name": "big",
            "transport": "http",
            "url": f"http://127.0.0.1:{port}/mcp",
            "allow_private_network": True,
            "timeout_seconds": 120,
            "max_response_bytes": 64 * 1024 * 1024,
            "recheck_seconds": 0,  # every call re-lists the upstream first
        }
    )
    worst = [0.0]

    async def probe() -> None:
        while True:
            start = time.perf_counter()
            await asyncio.sleep(0.001)
            worst[0] = max(worst[0], time.perf_counter() - start - 0.001)

    prepared = await prepare_mcp(config)
    async with McpConnector(prepared) as connector:
        await connector.call("tool_0000", {"field_0": "x"})  # connect and list once before measuring
        heap.settle()  # what start-up made, out of the collector's sight, as in the gateway
        watcher = asyncio.create_task(probe())
        for run in range(repeat):
            worst[0] = 0.0
            start = time.perf_counter()
            await connector.call("tool_0000", {"field_0": "x"})
            took = time.perf_counter() - start
            print(f"call with re-list {run + 1}: {took * 1000:.0f} ms; worst stall {worst[0] * 1000:.0f} ms")
        watcher.cancel()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tools", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve is not None:
        serve(args.serve, args.tools)
        return
    print(f"load average at start: {os.getloadavg()[0]:.2f}; {args.tools} tools of ~{len(str(tool(0)))} B")
    port = free_port()
    upstream = subprocess.Popen([sys.executable, __file__, "--serve", str(port), "--tools", str(args.tools)])
    try:
        asyncio.run(wait_up(port))
        asyncio.run(measure(port, args.repeat))
    finally:
        upstream.terminate()
        upstream.wait()


if __name__ == "__main__":
    main()
