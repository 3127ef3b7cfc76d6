"""resources/updated for an mcp connector with `prefix: false` carries the upstream's own URI,
the one its subscribers subscribed to (not the namespaced form)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
import httpx2
import pytest
from mcp.client.client import Client
from mcp.client.streamable_http import streamable_http_client

from tests.cluster.conftest import Cluster
from tests.cluster.test_subscriptions import NOTES, Notes, Updates, notes_upstream  # noqa: F401

pytestmark = pytest.mark.filterwarnings("ignore::mcp.shared.exceptions.MCPDeprecationWarning")


async def test_updates_of_a_verbatim_connector_name_the_upstreams_uri(
    make_cluster: Callable[..., Cluster],
    notes_upstream: tuple[Notes, str, str],  # noqa: F811
) -> None:
    _, base_url, _ = notes_upstream
    cluster = make_cluster()
    first = cluster.instances[0]
    connector = {
        "kind": "mcp",
        "name": "notes",
        "transport": "http",
        "url": f"{base_url}/mcp",
        "prefix": False,
    }
    added = first.admin.post("/admin/connectors", json={**connector, "allow_private_network": True})
    assert added.status_code == 201, added.text
    key = first.create_agent("reader")
    policy = {"name": "read", "agents": ["reader"], "allow": [], "resources": {"allow": ["notes://*"]}}
    assert first.admin.post("/admin/policies", json={"policies": [policy]}).status_code == 200
    cluster.wait_in_step(first)
    updates = Updates()
    async with (
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {key}"}, timeout=30) as http,
        Client(
            streamable_http_client(first.mcp_url, http_client=http),
            mode="legacy",
            cache=None,
            message_handler=updates,
        ) as client,
    ):
        for _ in range(100):
            if {item.uri for item in (await client.list_resources()).resources} == set(NOTES):
                break
            await asyncio.sleep(0.05)
        await client.subscribe_resource(NOTES[0])
        httpx.post(f"{base_url}/control/update", params={"uri": NOTES[0]}, timeout=5).raise_for_status()
        await updates.wait_for(NOTES[0])
        assert updates.uris == [NOTES[0]]
