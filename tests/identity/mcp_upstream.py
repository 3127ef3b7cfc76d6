"""An upstream MCP server that answers as whoever its own authorization server's token names:
a tool, a resource and a prompt that each say who is asking (the network edge of the tests).
Lists need no token; everything else does."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import mcp_types as types
from joserfc import jwt
from mcp.server import Server
from mcp.server.context import ServerRequestContext
from mcp.shared.exceptions import MCPError
from starlette.applications import Starlette

from tests.identity.auth_server import AuthServer


@dataclass
class WhoAmI:
    server: AuthServer
    seen: list[str] = field(default_factory=list)

    def user(self, ctx: ServerRequestContext[Any]) -> str:
        headers = getattr(ctx.request, "headers", None) or {}
        token = headers.get("authorization", "").removeprefix("Bearer ")
        self.seen.append(token)
        try:
            claims = jwt.decode(token, self.server.key).claims
        except Exception:
            raise MCPError(types.INVALID_REQUEST, "no token of mine") from None
        if claims.get("aud") != "crm-api" or claims["exp"] < time.time():
            raise MCPError(types.INVALID_REQUEST, "not a token for me")
        return str(claims["sub"])

    def app(self) -> Starlette:
        tool = types.Tool(name="whoami", description="Who is asking?", input_schema={"type": "object"})
        resource = types.Resource(uri="profile://me", name="me", mime_type="text/plain")
        prompt = types.Prompt(name="greeting", description="A greeting for whoever asks.")

        async def list_tools(ctx: Any, params: Any) -> types.ListToolsResult:
            return types.ListToolsResult(tools=[tool])

        async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
            return types.CallToolResult(
                content=[types.TextContent(type="text", text=f"tool:{self.user(ctx)}")]
            )

        async def list_resources(ctx: Any, params: Any) -> types.ListResourcesResult:
            return types.ListResourcesResult(resources=[resource])

        async def read_resource(
            ctx: Any, params: types.ReadResourceRequestParams
        ) -> types.ReadResourceResult:
            text = f"resource:{self.user(ctx)}"
            contents = types.TextResourceContents(uri=params.uri, mime_type="text/plain", text=text)
            return types.ReadResourceResult(contents=[contents])

        async def list_templates(ctx: Any, params: Any) -> types.ListResourceTemplatesResult:
            return types.ListResourceTemplatesResult(resource_templates=[])

        async def list_prompts(ctx: Any, params: Any) -> types.ListPromptsResult:
            return types.ListPromptsResult(prompts=[prompt])

        async def get_prompt(ctx: Any, params: types.GetPromptRequestParams) -> types.GetPromptResult:
            content = types.TextContent(type="text", text=f"prompt:{self.user(ctx)}")
            return types.GetPromptResult(messages=[types.PromptMessage(role="user", content=content)])

        server: Server[Any] = Server(
            "whoami",
            on_list_tools=list_tools,
            on_call_tool=call_tool,
            on_list_resources=list_resources,
            on_read_resource=read_resource,
            on_list_resource_templates=list_templates,
            on_list_prompts=list_prompts,
            on_get_prompt=get_prompt,
        )
        return server.streamable_http_app()
