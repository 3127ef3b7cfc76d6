"""The gateway is transparent for a server that is not the project's own: npm
`@modelcontextprotocol/server-everything`, federated with `prefix: false`.

Two comparisons, each direct against through the gateway: the official conformance suite (default
scenarios; every scenario that passes directly must pass through the gateway), and scenarios
the suite does not have, driven with the Python SDK: every list (all pages), reading every
listed resource and a template's expansion, getting each prompt, calling a tool, completing an
argument — the answers must be the same.
"""

from __future__ import annotations

import base64
import re
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import mcp_types as types
import pytest
from mcp.client.client import Client
from mcp.client.streamable_http import streamable_http_client

from broker.demo.upstreams.serve import BackgroundServer
from tests.conformance.everything import everything_server
from tests.conformance.proxy import AddKeyProxy
from tests.conformance.suite import finish_suite, start_suite, summary
from tests.conftest import start_gateway
from tests.e2e.helpers import mcp_client

AGENT = "everything-bot"
SUITE_LENIENCY = {
    "tools-call-simple-text": "server-everything has no test_simple_text tool and answers the unknown "
    "tool with an isError result, which the suite accepts; the gateway answers an unknown tool with "
    "JSON-RPC -32602, as the specification says (it cannot forward a call to a tool it does not know)",
    "tools-call-error": "the same, for test_error_handling",
}
"""Scenarios server-everything passes only because the suite accepts any result for a tool it lacks."""
pytestmark = pytest.mark.filterwarnings("ignore::mcp.shared.exceptions.MCPDeprecationWarning")


@dataclass
class Targets:
    direct: str
    via_gateway: str
    """Through the key-adding proxy, for the suite (it sends no Authorization header)."""
    gateway: str
    key: str


@pytest.fixture(scope="module")
def targets(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Targets]:
    path = tmp_path_factory.mktemp("everything")
    with everything_server(path / "server.log") as url:
        server, gateway = start_gateway(f"sqlite:///{path / 'broker.db'}")
        try:
            connector = {
                "kind": "mcp",
                "name": "everything",
                "transport": "http",
                "url": url,
                "prefix": False,
                "allow_private_network": True,
            }
            registered = gateway.admin.post("/admin/connectors", json=connector)
            assert registered.status_code == 201, registered.text
            key = gateway.create_agent(AGENT)
            policy = {
                "name": "everything",
                "agents": [AGENT],
                "allow": ["*"],
                "resources": {"allow": ["*"]},
                "prompts": {"allow": ["*"]},
            }
            granted = gateway.admin.post("/admin/policies", json={"policies": [policy]})
            assert granted.status_code == 200, granted.text
            with BackgroundServer(AddKeyProxy(gateway.url, key)) as proxy:
                yield Targets(url, f"{proxy.url}/mcp", gateway.mcp_url, key)
        finally:
            gateway.admin.close()
            server.stop()


def test_the_default_suite_passes_through_the_gateway_as_directly(targets: Targets, tmp_path: Path) -> None:
    direct_run = start_suite(targets.direct, tmp_path / "direct")
    gateway_run = start_suite(targets.via_gateway, tmp_path / "gateway")
    direct = finish_suite(direct_run, tmp_path / "direct")
    via = finish_suite(gateway_run, tmp_path / "gateway")
    print(f"server-everything, default suite: direct {summary(direct)}, through the gateway {summary(via)}")
    assert any(outcome.passed for outcome in direct.values()), "the suite passed nothing directly"
    lost = sorted(
        s
        for s, o in direct.items()
        if o.passed and not (s in via and via[s].passed) and s not in SUITE_LENIENCY
    )
    assert not lost, "\n".join(f"{s}: {'; '.join(via[s].failures) if s in via else 'not run'}" for s in lost)


async def _refuse(*_: Any) -> types.ErrorData:
    return types.ErrorData(code=types.INVALID_REQUEST, message="this test answers no request")


@asynccontextmanager
async def both(targets: Targets) -> AsyncIterator[tuple[Client, Client]]:
    """A direct client declaring what the gateway declares to its upstreams (sampling, elicitation,
    roots: server-everything lists some tools only to such clients), and one through the gateway."""
    async with (
        httpx2.AsyncClient(timeout=30) as http,
        Client(
            streamable_http_client(targets.direct, http_client=http),
            cache=None,
            sampling_callback=_refuse,
            elicitation_callback=_refuse,
            list_roots_callback=_refuse,
        ) as direct,
        mcp_client(targets.gateway, targets.key) as via,
    ):
        yield direct, via


async def every_page(fetch: Any, field: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(100):
        page = await fetch(cursor=cursor)
        items += [
            item.model_dump(mode="json", by_alias=True, exclude_none=True) for item in getattr(page, field)
        ]
        cursor = page.next_cursor
        if not cursor:
            return items
    raise AssertionError("more than 100 pages")


def _plain(value: Any) -> Any:
    """An answer without what is the gateway's to say (its `_meta`, cache hints), and without
    the clock time server-everything writes into its dynamic resources (the direct and the
    gateway's read may fall on either side of a second)."""
    data: dict[str, Any] = value.model_dump(mode="json", by_alias=True, exclude_none=True)
    for name in ("_meta", "ttlMs", "cacheScope", "resultType"):
        data.pop(name, None)
    return _untimed(data)


_CREATED_AT = re.compile(r"created at .*$")


def _untimed(value: Any) -> Any:
    if isinstance(value, list):
        return [_untimed(item) for item in value]
    if not isinstance(value, dict):
        return value
    plain = {key: _untimed(item) for key, item in value.items()}
    if isinstance(plain.get("text"), str):
        plain["text"] = _CREATED_AT.sub("created at <time>", plain["text"])
    if isinstance(plain.get("blob"), str):
        text = base64.b64decode(plain["blob"]).decode("utf-8", errors="replace")
        plain["blob"] = _CREATED_AT.sub("created at <time>", text)
    return plain


async def test_lists_reads_prompts_tools_and_completion_match_the_direct_answers(targets: Targets) -> None:
    async with both(targets) as (direct, via):
        for fetch, field in (
            ("list_resources", "resources"),
            ("list_resource_templates", "resource_templates"),
            ("list_prompts", "prompts"),
        ):
            mine = await every_page(getattr(direct, fetch), field)
            theirs = await every_page(getattr(via, fetch), field)
            assert theirs == mine, fetch
        tools_direct = {tool["name"] for tool in await every_page(direct.list_tools, "tools")}
        tools_via = {tool["name"] for tool in await every_page(via.list_tools, "tools")}
        assert tools_via == tools_direct, (sorted(tools_via - tools_direct), sorted(tools_direct - tools_via))

        resources = await every_page(direct.list_resources, "resources")
        assert resources, "server-everything lists resources"
        for resource in resources[:12]:
            assert _plain(await via.read_resource(resource["uri"])) == _plain(
                await direct.read_resource(resource["uri"])
            )
        templates = await every_page(direct.list_resource_templates, "resource_templates")
        for template in templates:
            uri = template["uriTemplate"].replace("{resourceId}", "3").replace("{id}", "3")
            if "{" not in uri:
                assert _plain(await via.read_resource(uri)) == _plain(await direct.read_resource(uri))

        for prompt in await every_page(direct.list_prompts, "prompts"):
            arguments = {
                a["name"]: _sample(a["name"]) for a in prompt.get("arguments", []) if a.get("required")
            }
            assert _plain(await via.get_prompt(prompt["name"], arguments)) == _plain(
                await direct.get_prompt(prompt["name"], arguments)
            ), prompt["name"]

        if "echo" in tools_direct:
            assert _plain(await via.call_tool("echo", {"message": "hello"})) == _plain(
                await direct.call_tool("echo", {"message": "hello"})
            )


def _sample(name: str) -> str:
    """A value for a required prompt argument the server accepts."""
    return {"city": "Paris", "state": "CA", "resourceType": "Text", "resourceId": "1"}.get(name, "1")
