"""A stdio MCP server for the tests, run as `python stdio_server.py`.

Environment: STARTS_FILE (a line is appended at every start, so tests can count restarts),
SECRET_TOKEN (printed to stderr when crashing: it must never reach an error message),
ECHO_DESCRIPTION (the echo tool's description, to simulate a changed definition).
"""

from __future__ import annotations

import os
import sys
from typing import Any

import anyio
import mcp_types as types
from mcp.server import Server
from mcp.server.context import ServerRequestContext
from mcp.server.stdio import stdio_server

TEXT_INPUT = {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}
EMPTY_INPUT: dict[str, Any] = {"type": "object", "properties": {}}


async def list_tools(
    ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
) -> types.ListToolsResult:
    return types.ListToolsResult(
        tools=[
            types.Tool(
                name="echo",
                description=os.environ.get("ECHO_DESCRIPTION", "Echo the text back."),
                input_schema=TEXT_INPUT,
                annotations=types.ToolAnnotations(read_only_hint=True),
            ),
            types.Tool(name="pid", description="The server's process id.", input_schema=EMPTY_INPUT),
            types.Tool(name="crash", description="Exit at once, mid-call.", input_schema=EMPTY_INPUT),
        ]
    )


async def call_tool(
    ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
) -> types.CallToolResult:
    arguments = params.arguments or {}
    if params.name == "echo":
        return types.CallToolResult(content=[types.TextContent(type="text", text=str(arguments.get("text")))])
    if params.name == "pid":
        pid = os.getpid()
        return types.CallToolResult(
            content=[types.TextContent(type="text", text=str(pid))], structured_content={"pid": pid}
        )
    if params.name == "crash":
        print(f"fatal: giving up, token={os.environ.get('SECRET_TOKEN', '')}", file=sys.stderr, flush=True)
        os._exit(3)
    raise ValueError(f"no tool {params.name}")


async def main() -> None:
    starts = os.environ.get("STARTS_FILE")
    if starts:
        with open(starts, "a") as file:
            file.write(f"{os.getpid()}\n")
    print("stdio test server ready", file=sys.stderr, flush=True)
    server = Server("stdio-test", on_list_tools=list_tools, on_call_tool=call_tool)
    async with stdio_server() as (read_stream, write_stream):
        await server.run(read_stream, write_stream, server.create_initialization_options())


if __name__ == "__main__":
    anyio.run(main)
