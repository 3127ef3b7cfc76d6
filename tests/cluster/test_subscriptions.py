"""resources/subscribe through the gateway: the upstream hears the subscription, its updates
reach the subscribed 2025 session whichever instance heard them, and stop after unsubscribe
or the session's end. The upstream speaks 2025-11-25 (requests) or 2026-07-28 (the
subscriptions/listen filter)."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import httpx2
import mcp_types as types
import pytest
import redis
from mcp.client.client import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.server import Server
from mcp.server.context import ServerRequestContext
from mcp.server.session import ServerSession
from mcp.server.subscriptions import InMemorySubscriptionBus, ListenHandler
from mcp.shared.subscriptions import ResourceUpdated
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from broker.demo.upstreams.serve import BackgroundServer
from tests.cluster.conftest import Cluster
from tests.cluster.test_sessions import Alternate
from tests.connectors.mcp.upstream import _LegacyOnly

pytestmark = pytest.mark.filterwarnings("ignore::mcp.shared.exceptions.MCPDeprecationWarning")
NOTES = ("notes://today", "notes://tomorrow", "notes://later")


@dataclass
class Notes:
    bus: InMemorySubscriptionBus = field(default_factory=InMemorySubscriptionBus)
    watchers: dict[str, list[ServerSession]] = field(default_factory=dict)
    """2025 sessions subscribed, per URI."""
    asked: list[tuple[str, str]] = field(default_factory=list)
    """(subscribe or unsubscribe, uri) as the upstream received them (2025)."""


def notes_app(notes: Notes, legacy_only: bool) -> Any:
    async def list_tools(ctx: ServerRequestContext[Any], params: Any) -> types.ListToolsResult:
        return types.ListToolsResult(tools=[types.Tool(name="noop", input_schema={"type": "object"})])

    async def call_tool(ctx: ServerRequestContext[Any], params: Any) -> types.CallToolResult:
        return types.CallToolResult(content=[types.TextContent(type="text", text="ok")])

    async def list_resources(ctx: ServerRequestContext[Any], params: Any) -> types.ListResourcesResult:
        return types.ListResourcesResult(
            resources=[types.Resource(uri=uri, name=uri.split("//")[1]) for uri in NOTES]
        )

    async def list_templates(
        ctx: ServerRequestContext[Any], params: Any
    ) -> types.ListResourceTemplatesResult:
        return types.ListResourceTemplatesResult(resource_templates=[])

    async def read_resource(
        ctx: ServerRequestContext[Any], params: types.ReadResourceRequestParams
    ) -> types.ReadResourceResult:
        text = types.TextResourceContents(uri=params.uri, mime_type="text/plain", text="nothing yet")
        return types.ReadResourceResult(contents=[text])

    async def subscribe(
        ctx: ServerRequestContext[Any], params: types.SubscribeRequestParams
    ) -> types.EmptyResult:
        notes.asked.append(("subscribe", params.uri))
        if ctx.protocol_version not in MODERN_PROTOCOL_VERSIONS:
            notes.watchers.setdefault(params.uri, []).append(ctx.session)
        return types.EmptyResult()

    async def unsubscribe(
        ctx: ServerRequestContext[Any], params: types.UnsubscribeRequestParams
    ) -> types.EmptyResult:
        notes.asked.append(("unsubscribe", params.uri))
        if ctx.session in notes.watchers.get(params.uri, []):
            notes.watchers[params.uri].remove(ctx.session)
        return types.EmptyResult()

    server: Server[Any] = Server(
        "notes-upstream",
        on_list_tools=list_tools,
        on_call_tool=call_tool,
        on_list_resources=list_resources,
        on_read_resource=read_resource,
        on_list_resource_templates=list_templates,
        on_subscribe_resource=subscribe,
        on_unsubscribe_resource=unsubscribe,
        on_subscriptions_listen=ListenHandler(notes.bus),
    )

    async def update(request: Request) -> JSONResponse:
        uri = request.query_params["uri"]
        await notes.bus.publish(ResourceUpdated(uri))
        for session in list(notes.watchers.get(uri, [])):
            await session.send_resource_updated(uri)
        return JSONResponse({"updated": uri})

    app = server.streamable_http_app(
        custom_starlette_routes=[Route("/control/update", update, methods=["POST"])]
    )
    return _LegacyOnly(app) if legacy_only else app


@pytest.fixture(params=["2025-11-25", "2026-07-28"])
def notes_upstream(request: pytest.FixtureRequest) -> Iterator[tuple[Notes, str, str]]:
    notes = Notes()
    with BackgroundServer(notes_app(notes, legacy_only=request.param == "2025-11-25")) as server:
        yield notes, server.url, request.param


class Updates:
    def __init__(self) -> None:
        self.uris: list[str] = []
        self.arrived = asyncio.Condition()

    async def __call__(self, message: Any) -> None:
        if isinstance(message, types.ResourceUpdatedNotification):
            async with self.arrived:
                self.uris.append(message.params.uri)
                self.arrived.notify_all()

    async def wait_for(self, uri: str, times: int = 1) -> None:
        async def seen() -> None:
            async with self.arrived:
                await self.arrived.wait_for(lambda: self.uris.count(uri) >= times)

        await asyncio.wait_for(seen(), 15)


def gateway_uri(local: str) -> str:
    return f"broker://notes/{local}"


async def test_updates_reach_the_subscribed_session_until_it_unsubscribes_or_ends(
    make_cluster: Callable[..., Cluster], notes_upstream: tuple[Notes, str, str]
) -> None:
    notes, base_url, era = notes_upstream
    cluster = make_cluster()
    first = cluster.instances[0]
    connector = {"kind": "mcp", "name": "notes", "transport": "http", "url": f"{base_url}/mcp"}
    added = first.admin.post("/admin/connectors", json={**connector, "allow_private_network": True})
    assert added.status_code == 201, added.text
    key = first.create_agent("reader")
    policy = {"name": "read", "agents": ["reader"], "allow": [], "resources": {"allow": ["broker://notes/*"]}}
    assert first.admin.post("/admin/policies", json={"policies": [policy]}).status_code == 200
    cluster.wait_in_step(first)
    today, tomorrow, later = (gateway_uri(uri) for uri in NOTES)

    def update(local: str) -> None:
        httpx.post(f"{base_url}/control/update", params={"uri": local}, timeout=5).raise_for_status()

    updates = Updates()
    transport = Alternate([gateway.mcp_url for gateway in cluster.instances])
    headers = {"Authorization": f"Bearer {key}"}
    async with (
        httpx2.AsyncClient(transport=transport, headers=headers, timeout=30) as http,
        Client(
            streamable_http_client(first.mcp_url, http_client=http),
            mode="legacy",
            cache=None,
            message_handler=updates,
        ) as client,
    ):
        for _ in range(100):  # each instance lists the new upstream in the background
            listed = [{item.uri for item in (await client.list_resources()).resources} for _ in (1, 2)]
            if listed == [{today, tomorrow, later}] * 2:
                break
            await asyncio.sleep(0.05)
        assert listed == [{today, tomorrow, later}] * 2
        with pytest.raises(Exception, match="Unknown resource"):
            await client.subscribe_resource("broker://other/notes://today")
        await client.subscribe_resource(today)
        await client.subscribe_resource(tomorrow)
        update(NOTES[0])
        await updates.wait_for(today)

        await client.unsubscribe_resource(today)
        update(NOTES[0])
        update(NOTES[1])
        await updates.wait_for(tomorrow)
        assert updates.uris == [today, tomorrow], updates.uris  # nothing for today after unsubscribing

        # Subscribed again (perhaps through the other instance, whose upstream session then hears
        # today's updates as well: the session may hear such an update twice).
        await client.subscribe_resource(today)
        await client.subscribe_resource(later)
        update(NOTES[0])
        await updates.wait_for(today, times=2)
        # A policy that no longer lets the agent read tomorrow's notes stops their updates.
        denied = {**policy, "resources": {"allow": ["broker://notes/*"], "deny": [tomorrow]}}
        assert (
            cluster.instances[1].admin.post("/admin/policies", json={"policies": [denied]}).status_code == 200
        )
        cluster.wait_in_step(cluster.instances[1])
        update(NOTES[1])
        update(NOTES[2])
        await updates.wait_for(later)
        assert [uri for uri in updates.uris if uri != today] == [tomorrow, later], updates.uris
        session_id = next(sid for _, _, sid in transport.sent if sid is not None)

    if era == "2025-11-25":  # asked in requests (at 2026-07-28: the listen stream's filter)
        assert ("subscribe", NOTES[0]) in notes.asked and ("unsubscribe", NOTES[0]) in notes.asked
    # The session ended (DELETE): no subscription of it is left.
    store = redis.Redis.from_url(cluster.settings["redis_url"])
    digest = hashlib.sha256(tomorrow.encode()).hexdigest()
    left = store.smembers(f"{cluster.settings['redis_channel']}:mcp-subs:{digest}")
    store.close()
    assert session_id.encode() not in left
