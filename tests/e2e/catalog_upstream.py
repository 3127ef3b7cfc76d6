"""An upstream MCP server with resources, a template, prompts and completion, for the e2e tests.

Built on the SDK's `MCPServer`; its texts carry personal data (an e-mail address) so masking
shows, and `reads` counts reads so caching shows.
"""

from __future__ import annotations

import json
from typing import Any

import mcp_types as types
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.prompts.base import UserMessage
from mcp.server.transport_security import TransportSecuritySettings
from starlette.applications import Starlette

EMAIL = "jane.doe@example.com"


class Counter:
    def __init__(self) -> None:
        self.reads = 0


def build_app(counter: Counter) -> Starlette:
    server: MCPServer[Any] = MCPServer(name="catalog-upstream", version="1.0.0")

    @server.tool()
    def echo(text: str) -> str:
        """Echo the text back."""
        return text

    @server.resource("notes://contact", mime_type="text/plain")
    def contact() -> str:
        """Who to call."""
        counter.reads += 1
        return f"Write to {EMAIL} for help."

    @server.resource("notes://secret", mime_type="text/plain")
    def secret() -> str:
        """Not for everyone."""
        return "the launch codes"

    @server.resource("records://customer/{id}", mime_type="application/json")
    def customer(id: str) -> str:
        """One customer as JSON."""
        return json.dumps({"id": id, "email": EMAIL})

    @server.prompt()
    def greet(name: str, language: str = "en") -> list[UserMessage]:
        """Greet someone by name."""
        return [
            UserMessage(
                content=types.TextContent(type="text", text=f"Say hello to {name} ({language}). Cc {EMAIL}.")
            )
        ]

    @server.prompt()
    def summarise(resource_uri: str) -> list[UserMessage]:
        """Summarise a resource."""
        embedded = types.TextResourceContents(uri=resource_uri, mime_type="text/plain", text="Some notes.")
        return [UserMessage(content=types.EmbeddedResource(type="resource", resource=embedded))]

    @server.completion()
    async def complete(
        ref: types.PromptReference | types.ResourceTemplateReference,
        argument: types.CompletionArgument,
        context: types.CompletionContext | None,
    ) -> types.Completion:
        options = {"name": ["Ada", "Alan", "Grace"], "id": ["17", "42"], "language": ["en", "de", "fr"]}
        values = [v for v in options.get(argument.name, []) if v.startswith(argument.value)]
        return types.Completion(values=values, total=len(values), has_more=False)

    security = TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=["127.0.0.1:*"],
        allowed_origins=["http://127.0.0.1:*"],
    )
    return server.streamable_http_app(transport_security=security)
