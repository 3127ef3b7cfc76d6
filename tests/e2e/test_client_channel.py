"""During a call: progress, log messages and cancellation between a client and an upstream MCP
server, through the gateway, in both protocol eras, with real SDK clients and a real upstream."""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx2
import mcp_types as types
import pytest
from mcp.client.client import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.server.mcpserver import Context, MCPServer
from mcp.shared.exceptions import MCPDeprecationWarning
from pydantic import BaseModel

from broker.demo.upstreams.serve import BackgroundServer
from tests.conftest import RunningGateway
from tests.e2e.helpers import MODES

pytestmark = pytest.mark.filterwarnings("ignore::mcp.shared.exceptions.MCPDeprecationWarning")
EMAIL = "jane.roe@example.com"


class Consent(BaseModel):
    share: bool


@dataclass
class Upstream:
    url: str
    cancelled: asyncio.Event = field(default_factory=asyncio.Event)
    started: list[str] = field(default_factory=list)


def upstream_app(state: Upstream) -> Any:
    server: MCPServer[Any] = MCPServer(name="channel-upstream")

    @server.tool()
    async def report(ctx: Context) -> str:
        """Reports progress and logs along the way."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", MCPDeprecationWarning)
            await ctx.debug("starting quietly")
            for step in (1, 2):
                await ctx.report_progress(step, 2, f"step {step} of 2")
            await ctx.warning(f"customer {EMAIL} has no plan")
        return "done"

    @server.tool()
    async def ask(ctx: Context) -> str:
        """Asks the user, then the model (2025 style: requests on the open stream)."""
        try:
            answer = await ctx.elicit(f"Share the account of {EMAIL}?", Consent)
            message = types.SamplingMessage(role="user", content=types.TextContent(type="text", text="2+2?"))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", MCPDeprecationWarning)
                sampled = await ctx.session.create_message(
                    messages=[message], max_tokens=5, related_request_id=ctx.request_id
                )
        except Exception as exc:
            return f"refused: {exc}"
        text = sampled.content.text if isinstance(sampled.content, types.TextContent) else "?"
        return f"{answer.action} {answer.data.share if answer.action == 'accept' else '-'} {text}"

    @server.tool()
    async def hang(ctx: Context) -> str:
        """Waits until cancelled."""
        state.started.append("hang")
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            state.cancelled.set()
            raise
        return "finished"

    return server.streamable_http_app()


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    state = Upstream(url="")
    with BackgroundServer(upstream_app(state)) as server:
        state.url = f"{server.url}/mcp"
        yield state


@pytest.fixture
def key(gateway: RunningGateway, upstream: Upstream) -> str:
    connector = {"kind": "mcp", "name": "up", "transport": "http", "url": upstream.url}
    registered = gateway.admin.post("/admin/connectors", json={**connector, "allow_private_network": True})
    assert registered.status_code == 201, registered.text
    agent_key = gateway.create_agent("chan-bot")
    policy = {"name": "chan", "agents": ["chan-bot"], "allow": ["up.*"], "masking": {}}
    assert gateway.admin.post("/admin/policies", json={"policies": [policy]}).status_code == 200
    return agent_key


def client(gateway: RunningGateway, key: str, mode: str, http: httpx2.AsyncClient, **options: Any) -> Client:
    return Client(streamable_http_client(gateway.mcp_url, http_client=http), mode=mode, cache=None, **options)


@pytest.mark.parametrize("mode", MODES)
async def test_progress_and_masked_logs_reach_the_client_at_its_level(
    gateway: RunningGateway, key: str, mode: str
) -> None:
    logs: list[types.LoggingMessageNotificationParams] = []
    progress: list[tuple[float, float | None, str | None]] = []

    async def on_log(params: types.LoggingMessageNotificationParams) -> None:
        logs.append(params)

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        progress.append((done, total, message))

    headers = {"Authorization": f"Bearer {key}"}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=30) as http,
        client(gateway, key, mode, http, logging_callback=on_log, log_level="info") as session,
    ):
        if mode == "legacy":
            await session.set_logging_level("info")
        result = await session.call_tool("up.report", {}, progress_callback=on_progress)

    assert result.is_error is False
    assert progress == [(1, 2, "step 1 of 2"), (2, 2, "step 2 of 2")]
    assert [entry.level for entry in logs] == ["warning"]  # the debug line is below the level asked for
    assert EMAIL not in str(logs[0].data) and "has no plan" in str(logs[0].data)


@pytest.mark.parametrize("mode", MODES)
async def test_a_cancelled_call_is_cancelled_upstream(
    gateway: RunningGateway, key: str, upstream: Upstream, mode: str
) -> None:
    headers = {"Authorization": f"Bearer {key}"}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=30) as http,
        client(gateway, key, mode, http) as session,
    ):
        call = asyncio.create_task(session.call_tool("up.hang", {}))
        for _ in range(100):
            if upstream.started:
                break
            await asyncio.sleep(0.05)
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
    await asyncio.wait_for(_wait_threadsafe(upstream.cancelled), 10)


async def _wait_threadsafe(event: asyncio.Event) -> None:
    """The upstream's event lives on its server thread's loop: poll it from here."""
    while not event.is_set():
        await asyncio.sleep(0.05)


async def test_the_upstreams_requests_reach_the_client_that_can_answer_them(
    gateway: RunningGateway, key: str
) -> None:
    """A 2025 client declaring elicitation and sampling answers the upstream's requests, which
    arrive masked; for a client that declared neither, the upstream's request is refused."""
    asked: list[str] = []

    async def on_elicit(context: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        asked.append(params.message)
        return types.ElicitResult(action="accept", content={"share": True})

    async def on_sample(context: Any, params: types.CreateMessageRequestParams) -> types.CreateMessageResult:
        reply = types.TextContent(type="text", text="4")
        return types.CreateMessageResult(role="assistant", content=reply, model="test-model")

    headers = {"Authorization": f"Bearer {key}"}
    options: dict[str, Any] = {"elicitation_callback": on_elicit, "sampling_callback": on_sample}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=30) as http,
        client(gateway, key, "legacy", http, **options) as session,
    ):
        answered = await session.call_tool("up.ask", {})
    assert [block.text for block in answered.content if isinstance(block, types.TextContent)] == [
        "accept True 4"
    ]
    assert len(asked) == 1 and EMAIL not in asked[0] and asked[0].startswith("Share the account of")

    async with (
        httpx2.AsyncClient(headers=headers, timeout=30) as http,
        client(gateway, key, "legacy", http) as session,
    ):
        refused = await session.call_tool("up.ask", {})
    text = "".join(block.text for block in refused.content if isinstance(block, types.TextContent))
    assert text.startswith("refused:") and "'elicitation/create'" in text  # the upstream could not ask


async def test_a_policy_change_reaches_a_2025_session_as_list_changed(
    gateway: RunningGateway, key: str
) -> None:
    """The session's GET stream hears tools/list_changed when its agent's view changes."""
    changed = asyncio.Event()

    async def on_message(message: Any) -> None:
        if isinstance(message, types.ToolListChangedNotification):
            changed.set()

    headers = {"Authorization": f"Bearer {key}"}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=30) as http,
        client(gateway, key, "legacy", http, message_handler=on_message) as session,
    ):
        assert "up.report" in [tool.name for tool in (await session.list_tools()).tools]
        narrowed = {"name": "chan", "agents": ["chan-bot"], "allow": ["up.hang"], "masking": {}}
        assert gateway.admin.post("/admin/policies", json={"policies": [narrowed]}).status_code == 200
        await asyncio.wait_for(changed.wait(), 10)
        assert [tool.name for tool in (await session.list_tools()).tools] == ["up.hang"]
