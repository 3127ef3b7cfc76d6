"""The demo's upstream MCP server: a small help-centre knowledge base over stdio.

The gateway starts it (`python -m broker.demo.upstreams.docs_mcp`), supervises it, pins its
tool definitions at registration and federates its tools as `docs.<tool>`.
"""

from __future__ import annotations

import json
from typing import Any

import anyio
import mcp_types as types
from mcp.server import Server
from mcp.server.context import ServerRequestContext
from mcp.server.stdio import stdio_server

ARTICLES: tuple[dict[str, str], ...] = (
    {
        "id": "kb-101",
        "title": "Resetting a customer's password",
        "tags": "account,login",
        "body": "Ask the customer to use 'Forgot password' on the sign-in page; "
        "links expire after 30 minutes.",
    },
    {
        "id": "kb-102",
        "title": "Refund policy",
        "tags": "billing,refund",
        "body": "Annual plans are refundable within 30 days; "
        "monthly plans are not refunded but can be cancelled.",
    },
    {
        "id": "kb-103",
        "title": "Shipping times by region",
        "tags": "shipping,logistics",
        "body": "EU 2-4 working days, North America 3-5, Asia-Pacific 5-8. Express halves these times.",
    },
    {
        "id": "kb-104",
        "title": "Changing the invoice address",
        "tags": "billing,invoice",
        "body": "Invoice addresses can be changed until the invoice is issued; "
        "afterwards, issue a credit note.",
    },
    {
        "id": "kb-105",
        "title": "Escalating an outage",
        "tags": "support,incident",
        "body": "Open a P1 ticket, page the on-call engineer and post in #incidents with the customer's id.",
    },
)

ARTICLE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "title": {"type": "string"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "body": {"type": "string"},
    },
    "required": ["id", "title", "tags", "body"],
}

TOOLS = [
    types.Tool(
        name="search_articles",
        description="Search the help-centre articles by words in their title, tags or text.",
        input_schema={
            "type": "object",
            "properties": {
                "query": {"type": "string", "minLength": 1},
                "limit": {"type": "integer", "minimum": 1, "maximum": 10, "default": 5},
            },
            "required": ["query"],
        },
        output_schema={
            "type": "object",
            "properties": {"results": {"type": "array", "items": ARTICLE_SCHEMA}},
            "required": ["results"],
        },
        annotations=types.ToolAnnotations(read_only_hint=True, idempotent_hint=True, open_world_hint=False),
    ),
    types.Tool(
        name="get_article",
        description="One help-centre article by its id (kb-...).",
        input_schema={
            "type": "object",
            "properties": {"article_id": {"type": "string"}},
            "required": ["article_id"],
        },
        output_schema=ARTICLE_SCHEMA,
        annotations=types.ToolAnnotations(read_only_hint=True, idempotent_hint=True, open_world_hint=False),
    ),
]


def _shaped(article: dict[str, str]) -> dict[str, Any]:
    return {**article, "tags": article["tags"].split(",")}


def search(query: str, limit: int = 5) -> list[dict[str, Any]]:
    words = query.lower().split()
    found = [a for a in ARTICLES if all(w in f"{a['title']} {a['tags']} {a['body']}".lower() for w in words)]
    return [_shaped(a) for a in found[:limit]]


async def list_tools(
    ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
) -> types.ListToolsResult:
    return types.ListToolsResult(tools=TOOLS)


async def call_tool(
    ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
) -> types.CallToolResult:
    arguments = params.arguments or {}
    if params.name == "search_articles":
        results = search(str(arguments.get("query", "")), int(arguments.get("limit", 5)))
        return _json_result({"results": results})
    if params.name == "get_article":
        wanted = str(arguments.get("article_id", ""))
        article = next((a for a in ARTICLES if a["id"] == wanted), None)
        if article is None:
            known = ", ".join(a["id"] for a in ARTICLES)
            text = f"no article '{wanted}'; known ids: {known}"
            return types.CallToolResult(content=[types.TextContent(type="text", text=text)], is_error=True)
        return _json_result(_shaped(article))
    raise ValueError(f"unknown tool {params.name}")


def _json_result(value: dict[str, Any]) -> types.CallToolResult:
    text = json.dumps(value, ensure_ascii=False)
    return types.CallToolResult(content=[types.TextContent(type="text", text=text)], structured_content=value)


async def main() -> None:
    server = Server("demo-docs", version="1.0", on_list_tools=list_tools, on_call_tool=call_tool)
    async with stdio_server() as (read_stream, write_stream):
        await server.run(read_stream, write_stream, server.create_initialization_options())


if __name__ == "__main__":
    anyio.run(main)
