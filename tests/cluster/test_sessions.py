"""One 2025-11-25 session served by two instances in turn, as behind a load balancer without
stickiness: real SDK clients, a real upstream MCP server, one PostgreSQL and one Redis."""

from __future__ import annotations

import asyncio
import json
import subprocess
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import httpx2
import mcp_types as types
import pytest
import redis
from mcp.client.client import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.server.mcpserver import Context, MCPServer
from mcp.shared.exceptions import MCPDeprecationWarning
from pydantic import BaseModel

from broker.demo.upstreams.serve import BackgroundServer
from broker.mcp.context import LIST_TTL_MS
from tests.cluster.conftest import Cluster
from tests.cluster.round_robin import RoundRobin
from tests.conftest import RunningGateway
from tests.connectors.mcp.upstream import Catalog, create_app, notify
from tests.e2e.helpers import mcp_client
from tests.e2e.test_real_clients import PY_MCP1, ROOT

pytestmark = pytest.mark.filterwarnings("ignore::mcp.shared.exceptions.MCPDeprecationWarning")


class Consent(BaseModel):
    ok: bool


def upstream_app() -> Any:
    server: MCPServer[Any] = MCPServer(name="session-upstream")

    @server.tool()
    async def report(ctx: Context) -> str:
        """Reports progress and logs along the way."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", MCPDeprecationWarning)
            await ctx.debug("a quiet line")
            for step in (1, 2):
                await ctx.report_progress(step, 2, f"step {step} of 2")
            await ctx.warning("a loud line")
        return "done"

    @server.tool()
    async def ask(ctx: Context) -> str:
        """Asks the user (2025 style: a request on the call's open stream)."""
        answer = await ctx.elicit("Proceed?", Consent)
        return f"{answer.action} {answer.data.ok if answer.action == 'accept' else '-'}"

    @server.resource("notes://today")
    def today() -> str:
        """Today's notes."""
        return "nothing yet"

    @server.prompt()
    def greet(name: str) -> str:
        """Greets someone."""
        return f"Hello, {name}!"

    return server.streamable_http_app()


@pytest.fixture
def upstream_url() -> Iterator[str]:
    with BackgroundServer(upstream_app()) as server:
        yield f"{server.url}/mcp"


class Alternate(httpx2.AsyncBaseTransport):
    """Sends each request to the next instance in turn: a load balancer without stickiness."""

    def __init__(self, urls: list[str]) -> None:
        self._inner = httpx2.AsyncHTTPTransport()
        self._targets = [httpx2.URL(url) for url in urls]
        self.sent: list[tuple[int, str, str | None]] = []
        """(instance, HTTP method, session id) per request."""

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        index = len(self.sent) % len(self._targets)
        target = self._targets[index]
        self.sent.append((index, request.method, request.headers.get("mcp-session-id")))
        request.url = request.url.copy_with(host=target.host, port=target.port)
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


def register(cluster: Cluster, upstream_url: str) -> str:
    first = cluster.instances[0]
    connector = {"kind": "mcp", "name": "up", "transport": "http", "url": upstream_url}
    registered = first.admin.post("/admin/connectors", json={**connector, "allow_private_network": True})
    assert registered.status_code == 201, registered.text
    key = first.create_agent("roamer")
    first.create_agent("other")
    agents = ["roamer", "other"]
    policy = {"name": "roam", "agents": agents, "allow": ["up.*"], "prompts": {"allow": ["up.*"]}}
    assert first.admin.post("/admin/policies", json={"policies": [policy]}).status_code == 200
    cluster.wait_in_step(first)
    return key


def raw_post(gateway: RunningGateway, key: str, session_id: str) -> httpx.Response:
    headers = {
        "Authorization": f"Bearer {key}",
        "Mcp-Session-Id": session_id,
        "MCP-Protocol-Version": "2025-11-25",
        "Accept": "application/json, text/event-stream",
    }
    body = {"jsonrpc": "2.0", "id": 9, "method": "tools/list", "params": {}}
    return httpx.post(gateway.mcp_url, json=body, headers=headers, timeout=10)


async def test_one_session_alternates_between_two_instances(
    make_cluster: Callable[..., Cluster], upstream_url: str
) -> None:
    cluster = make_cluster()
    key = register(cluster, upstream_url)
    other_key = cluster.instances[1].admin.post("/admin/agents/other/keys", json={"label": "t"}).json()["key"]
    transport = Alternate([gateway.mcp_url for gateway in cluster.instances])
    headers = {"Authorization": f"Bearer {key}"}
    logs: list[types.LoggingMessageNotificationParams] = []
    progress: list[tuple[float, float | None, str | None]] = []

    async def on_log(params: types.LoggingMessageNotificationParams) -> None:
        logs.append(params)

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        progress.append((done, total, message))

    async def on_elicit(context: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        return types.ElicitResult(action="accept", content={"ok": True})

    async with (
        httpx2.AsyncClient(transport=transport, headers=headers, timeout=30) as http,
        Client(
            streamable_http_client(cluster.instances[0].mcp_url, http_client=http),
            mode="legacy",
            cache=None,
            logging_callback=on_log,
            elicitation_callback=on_elicit,
        ) as client,
    ):
        assert client.protocol_version == "2025-11-25"
        assert [tool.name for tool in (await client.list_tools()).tools] == ["up.ask", "up.report"]
        await client.set_logging_level("warning")
        result = await client.call_tool("up.report", {}, progress_callback=on_progress)
        prompt = await client.get_prompt("up.greet", {"name": "Ada"})
        # The upstream's question goes out on one instance's stream; the answer is posted to the other.
        asked = await client.call_tool("up.ask", {})
        session_id = next(sid for _, _, sid in transport.sent if sid is not None)
        # Another agent holding the id is refused by either instance, as if the session did not exist.
        assert [raw_post(g, other_key, session_id).status_code for g in cluster.instances] == [404, 404]

    assert result.is_error is False
    assert [block.text for block in asked.content if isinstance(block, types.TextContent)] == ["accept True"]
    assert progress == [(1, 2, "step 1 of 2"), (2, 2, "step 2 of 2")]
    assert [entry.level for entry in logs] == ["warning"]  # the level set through the other instance
    content = prompt.messages[0].content
    assert isinstance(content, types.TextContent) and content.text == "Hello, Ada!"
    with_session = [(index, method) for index, method, sid in transport.sent if sid == session_id]
    assert {index for index, _ in with_session} == {0, 1}  # both instances served the session
    assert ("DELETE" in {method for _, method in with_session}) is True
    # Deleted through one instance, the session is gone on both.
    assert [raw_post(g, key, session_id).status_code for g in cluster.instances] == [404, 404]


class Heard:
    """The notifications a client's GET stream delivered, by method."""

    def __init__(self) -> None:
        self.events: dict[str, asyncio.Event] = {}

    def event(self, method: str) -> asyncio.Event:
        return self.events.setdefault(method, asyncio.Event())

    async def __call__(self, message: Any) -> None:
        method = getattr(message, "method", None)
        if isinstance(method, str):
            self.event(method).set()

    async def wait(self, *methods: str) -> None:
        for method in methods:
            await asyncio.wait_for(self.event(method).wait(), 15)

    def clear(self) -> None:
        self.events.clear()


TOOLS_CHANGED = "notifications/tools/list_changed"


async def test_list_changed_reaches_the_session_whichever_instance_changed(
    make_cluster: Callable[..., Cluster], upstream_url: str
) -> None:
    """A policy change, a new connector and an upstream's own change each reach an alternating
    2025 session on its GET stream, made through either instance; a 2026-07-28 client's lists
    say how long they may be reused instead."""
    cluster = make_cluster()
    first, second = cluster.instances
    catalog = Catalog()
    with BackgroundServer(create_app(catalog)) as changing:
        connector = {"kind": "mcp", "name": "cat", "transport": "http", "url": f"{changing.url}/mcp"}
        added = first.admin.post("/admin/connectors", json={**connector, "allow_private_network": True})
        assert added.status_code == 201, added.text
        key = first.create_agent("watcher")
        policy = {
            "name": "watch",
            "agents": ["watcher"],
            "allow": ["*"],
            "prompts": {"allow": ["*"]},
            "resources": {"allow": ["broker://*"]},
        }
        applied = first.admin.post("/admin/policies", json={"policies": [policy]})
        assert applied.status_code == 200, applied.text
        cluster.wait_in_step(first)
        heard = Heard()
        transport = Alternate([gateway.mcp_url for gateway in cluster.instances])
        headers = {"Authorization": f"Bearer {key}"}
        async with (
            httpx2.AsyncClient(transport=transport, headers=headers, timeout=30) as http,
            Client(
                streamable_http_client(first.mcp_url, http_client=http),
                mode="legacy",
                cache=None,
                message_handler=heard,
            ) as client,
        ):
            names = [tool.name for tool in (await client.list_tools()).tools]
            assert "cat.echo" in names and "up.report" not in names

            # A connector added through the second instance: new tools, prompts and resources.
            added = second.admin.post("/admin/connectors", json=upstream_connector(upstream_url))
            assert added.status_code == 201, added.text
            await heard.wait(
                TOOLS_CHANGED, "notifications/prompts/list_changed", "notifications/resources/list_changed"
            )
            cluster.wait_in_step(second)
            assert "up.report" in await settled_names(client)

            # The policy narrowed through the first instance.
            heard.clear()
            narrowed = {**policy, "allow": ["up.*"]}
            assert first.admin.post("/admin/policies", json={"policies": [narrowed]}).status_code == 200
            await heard.wait(TOOLS_CHANGED)
            cluster.wait_in_step(first)
            assert await settled_names(client) == ["up.ask", "up.report"]

            # Widened again; then the upstream drops a tool of its own.
            assert first.admin.post("/admin/policies", json={"policies": [policy]}).status_code == 200
            cluster.wait_in_step(first)
            assert "cat.echo" in await settled_names(client)
            heard.clear()
            del catalog.tools["echo"]
            notify(changing.url)
            await heard.wait(TOOLS_CHANGED)
            assert "cat.echo" not in await settled_names(client, without="cat.echo")

        async with mcp_client(second.mcp_url, key) as modern:
            listed = await modern.list_tools()
            prompts = await modern.list_prompts()
            resources = await modern.list_resources()
        for page in (listed, prompts, resources):
            assert (page.ttl_ms, page.cache_scope) == (LIST_TTL_MS, "private")


async def settled_names(client: Client, without: str | None = None) -> list[str]:
    """The tool names once both instances (asked in turn) list the same ones: each lists an
    upstream in the background after a change. `without`: also wait for that name to go."""
    previous: list[str] = []
    for _ in range(100):
        names = [tool.name for tool in (await client.list_tools()).tools]
        if names == previous and (without is None or without not in names):
            return names
        previous = names
        await asyncio.sleep(0.05)
    return previous


def upstream_connector(url: str) -> dict[str, Any]:
    return {"kind": "mcp", "name": "up", "transport": "http", "url": url, "allow_private_network": True}


def test_a_python_sdk_1x_session_alternates_between_two_instances(
    make_cluster: Callable[..., Cluster], upstream_url: str
) -> None:
    """The 1.x SDK (another process) through a round-robin proxy: initialize, list, a call with
    progress and DELETE, each on the other instance."""
    cluster = make_cluster()
    key = register(cluster, upstream_url)
    balancer = RoundRobin([gateway.url for gateway in cluster.instances])
    with BackgroundServer(balancer) as proxy:
        script = str(ROOT / "tests" / "e2e" / "py1_client.py")
        done = subprocess.run(
            [str(PY_MCP1), script, f"{proxy.url}/mcp", key, "up.report"],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=ROOT,
        )
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["protocol"] == "2025-11-25"
    assert out["progress"] == [1, 2] and out["result"]["isError"] is False
    with_session = [(index, method) for index, method, sid in balancer.sent if sid is not None]
    assert {index for index, _ in with_session} == {0, 1}
    assert "DELETE" in {method for _, method in with_session}


def test_a_deleted_session_is_gone_from_the_store_when_its_answer_arrives(
    make_cluster: Callable[..., Cluster],
) -> None:
    """A client that has its 200 to DELETE may rely on the session being forgotten: another
    instance must not adopt it, and no update may reach it, so the store forgets it first."""
    cluster = make_cluster()
    first, second = cluster.instances
    key = first.create_agent("leaver")
    store = redis.Redis.from_url(cluster.settings["redis_url"])
    headers = {
        "Authorization": f"Bearer {key}",
        "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": "2025-11-25",
    }
    hello = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": {"name": "leaver", "version": "1"},
        },
    }
    left: list[str] = []
    with httpx.Client(headers=headers, timeout=10) as http:
        for _ in range(40):
            opened = http.post(first.mcp_url, json=hello)
            assert opened.status_code == 200, opened.text
            session_id = opened.headers["mcp-session-id"]
            record = f"{cluster.settings['redis_channel']}:mcp-session:{session_id}"
            assert store.exists(record) == 1
            with http.stream("DELETE", second.mcp_url, headers={"Mcp-Session-Id": session_id}) as ended:
                if store.exists(record):  # looked at as soon as the status line arrives
                    left.append(session_id)
                assert ended.status_code == 200
    store.close()
    assert left == []
