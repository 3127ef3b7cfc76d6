"""The test upstream behind bearer authentication, for the credential tests.

`RequireBearer` lets through only requests whose `Authorization: Bearer <token>` it accepts
and notes every token it saw; a refused request gets a 401 that echoes the token (as a
careless server might), so the tests also check that such an echo never reaches an agent.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field

import mcp_types as types
from starlette.types import ASGIApp, Receive, Scope, Send

from tests.connectors.mcp.upstream import Catalog, create_app

WHOAMI = types.Tool(
    name="whoami",
    description="Answer with the Authorization header the upstream received.",
    input_schema={"type": "object", "properties": {}},
)


@dataclass
class Doorman:
    """Which tokens the upstream accepts, and the token of every request, in order."""

    accept: Callable[[str], bool]
    seen: list[tuple[str, str]] = field(default_factory=list)
    """(HTTP method, token) of every accepted request."""
    refused: list[str] = field(default_factory=list)

    def tokens(self) -> set[str]:
        return {token for _, token in self.seen}


class RequireBearer:
    def __init__(self, app: ASGIApp, doorman: Doorman) -> None:
        self.app = app
        self.doorman = doorman

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        scheme, _, token = headers.get(b"authorization", b"").decode().partition(" ")
        if scheme != "Bearer" or not self.doorman.accept(token):
            self.doorman.refused.append(token)
            body = json.dumps({"error": "invalid_token", "detail": f"the token '{token}' is not valid"})
            start = {"type": "http.response.start", "status": 401}
            await send({**start, "headers": [(b"content-type", b"application/json")]})
            await send({"type": "http.response.body", "body": body.encode()})
            return
        self.doorman.seen.append((scope["method"], token))
        await self.app(scope, receive, send)


def secured_app(
    catalog: Catalog, accept: Callable[[str], bool], *, legacy_only: bool = False
) -> tuple[ASGIApp, Doorman]:
    """The test upstream (with the `whoami` tool) behind `RequireBearer`."""
    catalog.tools["whoami"] = WHOAMI
    doorman = Doorman(accept)
    return RequireBearer(create_app(catalog, legacy_only=legacy_only), doorman), doorman
