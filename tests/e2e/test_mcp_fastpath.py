"""The MCP fast path answers exactly what the SDK answers, for the requests it serves and the rest.

Two gateways share one database (the demo catalog): one with the fast path (the default), one
with `BROKER_MCP_FAST_PATH=false`, where the SDK serves every request. The same requests go to
both, raw over HTTP and through the mcp SDK client; the answers must match (status and parsed
JSON), and the fast gateway's `broker_mcp_fast_path_requests_total` says which path answered.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from broker import keys
from tests.conftest import RunningGateway, start_gateway
from tests.e2e.conftest import DemoCatalog
from tests.e2e.helpers import mcp_client

VERSION = "2026-07-28"
META = {
    "io.modelcontextprotocol/protocolVersion": VERSION,
    "io.modelcontextprotocol/clientInfo": {"name": "raw-http-test", "version": "1"},
    "io.modelcontextprotocol/clientCapabilities": {},
}

CAN_BE_ASKED = {**META, "io.modelcontextprotocol/clientCapabilities": {"elicitation": {}}}
"""A client the SDK path may ask in input-required rounds: the fast path leaves it to the SDK."""


@dataclass
class Twins:
    demo: DemoCatalog
    sdk: RunningGateway

    @property
    def fast(self) -> RunningGateway:
        return self.demo.gateway


@pytest.fixture(scope="module")
def twins(shared_demo: DemoCatalog) -> Iterator[Twins]:
    """The twins for the whole module: its tests only list and call, the same on both, and
    count fast-path answers from where they start."""
    demo = shared_demo
    settings = demo.gateway.settings
    server, sdk = start_gateway(
        demo.gateway.database_url,
        mcp_fast_path=False,
        secret_keys=settings.secret_keys,
        pii_salt=settings.pii_salt,
        audit_hash_key=settings.audit_hash_key,
    )
    try:
        yield Twins(demo, sdk)
    finally:
        sdk.admin.close()
        server.stop()


def rpc(method: str, params: dict[str, Any], request_id: Any = 7) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "method": method, "params": {**params, "_meta": META}}


def headers_for(key: str | None, method: str, name: str | None = None) -> dict[str, str]:
    headers = {
        "Accept": "application/json, text/event-stream",
        "Content-Type": "application/json",
        "MCP-Protocol-Version": VERSION,
        "Mcp-Method": method,
        "X-Request-Id": "fast-path-twin",  # the same on both: errors carry it in `data`
    }
    if name is not None:
        headers["Mcp-Name"] = name
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    return headers


def answered_fast(gateway: RunningGateway) -> float:
    text = httpx.get(f"{gateway.url}/metrics", timeout=10).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("broker_mcp_fast_path_requests_total{")
    )


def exchange(
    twins: Twins, body: bytes | dict[str, Any], headers: dict[str, str] | list[tuple[str, str]]
) -> tuple[tuple[int, Any, str], tuple[int, Any, str]]:
    """The same request to both gateways: (status, parsed body, content type) of each."""
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    answers = []
    for gateway in (twins.fast, twins.sdk):
        response = httpx.post(gateway.mcp_url, content=content, headers=headers, timeout=30)
        kind = response.headers.get("content-type", "")
        parsed = response.json() if kind.startswith("application/json") else response.text
        if response.status_code in (401, 403):
            parsed = (parsed, response.headers.get("www-authenticate", "").replace(gateway.url, "URL"))
        answers.append((response.status_code, parsed, kind))
    return answers[0], answers[1]


def same_answer(twins: Twins, body: bytes | dict[str, Any], headers: Any, *, fast: bool) -> tuple[int, Any]:
    """Both gateways answer alike; `fast`: the fast path answered on the fast gateway (else the SDK)."""
    before = answered_fast(twins.fast)
    quick, slow = exchange(twins, body, headers)
    assert quick == slow
    assert answered_fast(twins.fast) == before + (1 if fast else 0)
    assert answered_fast(twins.sdk) == 0
    return quick[0], quick[1]


def test_tools_list_pages_match_the_sdk(twins: Twins) -> None:
    for key in (twins.demo.support_key, twins.demo.analyst_key):
        status, answer = same_answer(twins, rpc("tools/list", {}), headers_for(key, "tools/list"), fast=True)
        assert status == 200 and answer["result"]["tools"], answer
        assert answer["result"]["cacheScope"] == "private"
    narrowed = headers_for(twins.demo.support_key, "tools/list") | {"MCP-Context": "weather"}
    _, answer = same_answer(twins, rpc("tools/list", {}, "str-id"), narrowed, fast=True)
    assert {tool["name"].split(".")[0] for tool in answer["result"]["tools"]} == {"weather"}
    bad = rpc("tools/list", {"cursor": "not-a-cursor"})
    status, answer = same_answer(twins, bad, headers_for(twins.demo.support_key, "tools/list"), fast=True)
    assert status == 400 and answer["error"]["code"] == -32602
    assert answer["error"]["data"]["request_id"] == "fast-path-twin"


CALLS = [
    ("support", "docs.search_articles", {"query": "refund"}, "result"),  # a federated mcp upstream
    ("support", "docs.get_article", {"article_id": "nope"}, "isError"),  # the upstream's own isError
    ("support", "weather.current", {"city": "Atlantis"}, "isError"),  # the http upstream's 404
    ("support", "weather.current", {}, "isError"),  # arguments fail the input schema
    ("support", "crm.list_contacts", {"limit": 3}, "result"),  # e-mails and phones masked as tokens
    ("support", "crm.list_contacts", {"limit": 500}, "isError"),  # beyond the policy's constraint
    ("support", "crm.list_companies", {}, "-32602"),  # denied: unknown to this agent
    ("analyst", "crm_db.revenue_by_customer", {"limit": 3}, "result"),  # a sql named query
    ("analyst", "nosuch.tool", {}, "-32602"),
]


def test_tools_call_answers_match_the_sdk(twins: Twins) -> None:
    for agent, tool, arguments, outcome in CALLS:
        key = twins.demo.support_key if agent == "support" else twins.demo.analyst_key
        body = rpc("tools/call", {"name": tool, "arguments": arguments})
        status, answer = same_answer(twins, body, headers_for(key, "tools/call", tool), fast=True)
        if outcome == "-32602":
            assert status == 400 and answer["error"]["code"] == -32602, (tool, answer)
        else:
            assert status == 200 and answer["result"]["isError"] is (outcome == "isError"), (tool, answer)
            assert answer["result"]["resultType"] == "complete"


def test_contacts_come_back_masked_on_the_fast_path(twins: Twins) -> None:
    body = rpc("tools/call", {"name": "crm.list_contacts", "arguments": {"limit": 5}})
    _, answer = same_answer(
        twins, body, headers_for(twins.demo.support_key, "tools/call", body["params"]["name"]), fast=True
    )
    text = json.dumps(answer)
    assert "<EMAIL_ADDRESS_" in text and "@example" not in text


def edge_cases(key: str) -> list[tuple[str, bytes | dict[str, Any], Any]]:
    call = rpc("tools/call", {"name": "weather.current", "arguments": {"city": "Paris"}})
    good = headers_for(key, "tools/call", "weather.current")
    return [
        ("wrong Mcp-Name", call, headers_for(key, "tools/call", "weather.forecast")),
        ("no Mcp-Name", call, headers_for(key, "tools/call")),
        ("wrong Mcp-Method", call, headers_for(key, "tools/list")),
        ("version header unlike the body", call, good | {"MCP-Protocol-Version": "2025-11-25"}),
        ("unsupported version", call, good | {"MCP-Protocol-Version": "2099-01-01"}),
        ("repeated Mcp-Method", call, [*good.items(), ("Mcp-Method", "tools/call")]),
        ("bad JSON", b'{"jsonrpc": "2.0", "id": 1,', good),
        ("a batch", json.dumps([call]).encode(), good),
        ("a notification", {k: v for k, v in call.items() if k != "id"}, good),
        ("boolean id", {**call, "id": True}, good),
        ("no _meta", {**call, "params": {"name": "weather.current", "arguments": {}}}, good),
        (
            "_meta without capabilities",
            {
                **call,
                "params": {
                    **call["params"],
                    "_meta": {k: v for k, v in META.items() if "Capabilities" not in k},
                },
            },
            good,
        ),
        (
            "capabilities not an object",
            {
                **call,
                "params": {
                    **call["params"],
                    "_meta": {**META, "io.modelcontextprotocol/clientCapabilities": 5},
                },
            },
            good,
        ),
        ("arguments not an object", {**call, "params": {**call["params"], "arguments": [1]}}, good),
        ("name not a string", {**call, "params": {**call["params"], "name": 5}}, good),
        ("an extra params field", {**call, "params": {**call["params"], "task": {"ttl": 1}}}, good),
        ("a client that can be asked", {**call, "params": {**call["params"], "_meta": CAN_BE_ASKED}}, good),
        ("text/plain", call, good | {"Content-Type": "text/plain"}),
        ("accepts no JSON", call, good | {"Accept": "text/html"}),
        ("foreign Host", call, good | {"Host": "attacker.example"}),
        ("foreign Origin", call, good | {"Origin": "http://attacker.example"}),
        ("no key", call, headers_for(None, "tools/call", "weather.current")),
        ("a bad key", call, headers_for(keys.KEY_PREFIX + "x" * 40, "tools/call", "weather.current")),
    ]


def test_edge_cases_get_the_sdk_answer(twins: Twins) -> None:
    for case, body, headers in edge_cases(twins.demo.support_key):
        try:
            status, answer = same_answer(twins, body, headers, fast=False)
        except AssertionError as exc:
            raise AssertionError(f"{case}: {exc}") from None
        assert status >= 400 or case in (
            "a notification",
            "an extra params field",
            "a client that can be asked",
        ), (case, status, answer)


def test_a_body_over_the_limit_is_413_on_both(twins: Twins) -> None:
    padding = "x" * (twins.fast.settings.max_request_bytes + 1)
    body = rpc("tools/list", {}) | {"params": {"_meta": {**META, "padding": padding}}}
    headers = headers_for(twins.demo.support_key, "tools/list")
    status, _ = same_answer(twins, body, headers, fast=False)
    assert status == 413
    chunked = (part for part in [json.dumps(body).encode()])  # no Content-Length: counted while read
    before = answered_fast(twins.fast)
    statuses = [
        httpx.post(
            gateway.mcp_url,
            content=chunked if gateway is twins.fast else json.dumps(body).encode(),
            headers=headers,
            timeout=30,
        ).status_code
        for gateway in (twins.fast, twins.sdk)
    ]
    assert statuses == [413, 413] and answered_fast(twins.fast) == before


def test_a_progress_request_streams_through_the_sdk(twins: Twins) -> None:
    params = {"name": "docs.search_articles", "arguments": {"query": "refund"}}
    body = rpc("tools/call", params)
    body["params"]["_meta"] = {**META, "progressToken": "p1"}
    headers = headers_for(twins.demo.support_key, "tools/call", "docs.search_articles")
    status, answer = same_answer(twins, body, headers, fast=False)
    assert status == 200 and answer["result"]["isError"] is False


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_the_sdk_client_sees_the_same_tools_and_results(twins: Twins, mode: str) -> None:
    key = twins.demo.support_key
    seen = []
    before = answered_fast(twins.fast)
    for gateway in (twins.fast, twins.sdk):
        async with mcp_client(gateway.mcp_url, key, mode=mode) as client:
            listed = await client.list_tools()
            result = await client.call_tool("docs.search_articles", {"query": "refund"})
            contacts = await client.call_tool("crm.list_contacts", {"limit": 2})
            seen.append(
                [item.model_dump(by_alias=True, exclude_none=True) for item in (listed, result, contacts)]
            )
    assert seen[0] == seen[1]
    assert seen[0][1]["isError"] is False
    assert answered_fast(twins.fast) - before == (3 if mode == "auto" else 0)
