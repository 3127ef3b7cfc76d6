"""The Python SDK 1.x as an assistant uses it (run by the 1.x interpreter `make client-tools` builds):
list the tools, call one with progress, print one JSON line. Usage: python py1_client.py URL KEY TOOL"""

import asyncio
import json
import sys

from mcp import ClientSession
from mcp.client.streamable_http import streamablehttp_client


async def main(url: str, key: str, tool: str) -> None:
    progress: list[float] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        progress.append(done)

    headers = {"Authorization": f"Bearer {key}"}
    async with (
        streamablehttp_client(url, headers=headers) as (read, write, _),
        ClientSession(read, write) as session,
    ):
        init = await session.initialize()
        tools = [t.name for t in (await session.list_tools()).tools]
        result = await session.call_tool(tool, {}, progress_callback=on_progress)
    print(
        json.dumps(
            {
                "protocol": init.protocolVersion,
                "tools": tools,
                "progress": progress,
                "result": result.model_dump(mode="json", exclude_none=True),
            }
        )
    )


asyncio.run(main(*sys.argv[1:4]))
