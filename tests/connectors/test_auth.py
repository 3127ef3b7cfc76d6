"""Connector `auth`: each way of sending a secret, against a real upstream that checks it,
and the secret never coming back in results, errors or logs."""

from __future__ import annotations

import base64
import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import quote, quote_plus

import httpx
import pytest
from pydantic import ValidationError

from broker.demo.upstreams.serve import BackgroundServer
from connectors.auth import MissingCredential, SecretRef, fingerprint
from connectors.base import CallContext
from connectors.errors import ConnectorError, UpstreamHTTPError
from connectors.http.connector import HttpConnector, HttpConnectorConfig
from connectors.http.openapi import OpenAPIConnectorConfig, openapi_to_http
from tests.secrets.upstreams import Accepted, create_resource_app

SHARED = "shared-s3cret/+&=?%value"  # characters that change form in URLs and JSON
ALICE = "alice-0nly-s3cret"
ARGS = {"type": "object", "properties": {"city": {"type": "string"}, "appid": {"type": "string"}}}

ACCEPTED = Accepted(
    bearer={SHARED: "shared", ALICE: "alice"},
    header={f"Key {SHARED}": "shared", f"Key {ALICE}": "alice"},
    query={SHARED: "shared", ALICE: "alice"},
    basic={("reports", SHARED): "shared", ("reports", ALICE): "alice"},
)

AUTHS: dict[str, dict[str, Any]] = {
    "bearer": {"type": "bearer"},
    "header": {"type": "header", "name": "X-Api-Key", "prefix": "Key "},
    "query": {"type": "query", "name": "appid"},
    "basic": {"type": "basic", "username": "reports"},
}


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    with BackgroundServer(create_resource_app(ACCEPTED)) as server:
        yield server.url


@pytest.fixture
async def transport() -> AsyncIterator[httpx.AsyncHTTPTransport]:
    """A plain transport to the loopback upstream (the connector's own would refuse loopback)."""
    async with httpx.AsyncHTTPTransport() as plain:
        yield plain


def make(
    url: str, auth: dict[str, Any], path: str, transport: httpx.AsyncBaseTransport | None = None, **extra: Any
) -> HttpConnector:
    tool = {
        "name": "call",
        "description": "call",
        "path": path,
        "query": ["city", "appid"],
        "input_schema": ARGS,
    }
    return HttpConnector(
        HttpConnectorConfig.model_validate(
            {
                "kind": "http",
                "name": "api",
                "base_url": url,
                "auth": {"secret": "api-key", "per_agent": {"alice-bot": "alice-key"}, **auth},
                "tools": [tool],
                **extra,
            }
        ),
        transport=transport,
    )


def context(agent: str | None = None) -> CallContext:
    return CallContext(agent=agent, secrets={"api-key": SHARED, "alice-key": ALICE})


@pytest.fixture(params=list(AUTHS))
async def connector(
    request: pytest.FixtureRequest, upstream: str, transport: httpx.AsyncHTTPTransport
) -> AsyncIterator[HttpConnector]:
    async with make(upstream, AUTHS[request.param], f"/{request.param}", transport) as built:
        yield built


def forms(value: str) -> list[str]:
    return [
        value,
        quote(value, safe=""),
        quote_plus(value),
        base64.b64encode(f"reports:{value}".encode()).decode(),
    ]


def assert_clean(text: str) -> None:
    for value in (SHARED, ALICE):
        for form in forms(value):
            assert form not in text


async def test_each_kind_sends_the_secret_where_the_upstream_wants_it(connector: HttpConnector) -> None:
    assert connector.secret_refs() == {"api-key", "alice-key"}
    output = await connector.call("call", {"city": "Oslo"}, context("bob-bot"))
    assert output.structured is not None and output.structured["who"] == "shared"


async def test_per_agent_secret_overrides_the_shared_one(connector: HttpConnector) -> None:
    alice = await connector.call("call", {}, context("alice-bot"))
    anonymous = await connector.call("call", {}, context(None))
    assert (alice.structured or {})["who"] == "alice"
    assert (anonymous.structured or {})["who"] == "shared"


async def test_a_missing_secret_names_the_secret_not_a_value(connector: HttpConnector) -> None:
    with pytest.raises(MissingCredential) as caught:
        await connector.call("call", {}, CallContext(agent="alice-bot", secrets={"api-key": SHARED}))
    assert "'alice-key'" in caught.value.message and "not configured" in caught.value.message
    assert_clean(caught.value.message)


async def test_the_credential_replaces_static_headers_and_arguments_of_the_same_name(
    upstream: str, transport: httpx.AsyncHTTPTransport
) -> None:
    bearer = make(
        upstream, AUTHS["bearer"], "/bearer", transport, headers={"authorization": "Bearer static-leftover"}
    )
    query = make(upstream, AUTHS["query"], "/query", transport)
    async with bearer, query:
        await bearer.call("call", {}, context())
        assert ACCEPTED.seen[-1]["authorization"] == f"Bearer {SHARED}"
        output = await query.call("call", {"appid": "agent-chosen", "city": "Rome"}, context())
    assert output.structured == {"who": "shared", "city": "Rome"}
    assert "agent-chosen" not in ACCEPTED.seen[-1]["query"]


@pytest.mark.parametrize("kind", list(AUTHS))
async def test_an_upstream_error_that_echoes_the_credential_is_scrubbed(
    upstream: str, transport: httpx.AsyncHTTPTransport, kind: str
) -> None:
    async with make(upstream, AUTHS[kind], "/reflect-error", transport) as connector:
        with pytest.raises(UpstreamHTTPError) as caught:
            await connector.call("call", {"city": "Oslo"}, context())
    assert caught.value.status_code == 500
    assert "crashed handling" in caught.value.message and "***" in caught.value.message
    assert_clean(caught.value.message)
    assert_clean(str(caught.value))


@pytest.mark.parametrize("kind", list(AUTHS))
async def test_a_result_that_echoes_the_credential_is_scrubbed(
    upstream: str, transport: httpx.AsyncHTTPTransport, kind: str
) -> None:
    async with make(upstream, AUTHS[kind], "/reflect", transport) as connector:
        output = await connector.call("call", {"city": "Oslo"}, context())
    assert output.structured is not None and "headers" in output.structured
    assert_clean(str(output.content) + str(output.structured))


async def test_a_secret_with_a_line_break_is_not_sent_as_a_header(
    upstream: str, transport: httpx.AsyncHTTPTransport
) -> None:
    async with make(upstream, AUTHS["bearer"], "/bearer", transport) as connector:
        with pytest.raises(ConnectorError, match="contains a line break") as caught:
            await connector.call("call", {}, CallContext(secrets={"api-key": "abc\r\nX-Evil: 1"}))
    assert "abc" not in caught.value.message


async def test_httpx_request_logs_do_not_show_query_secrets(
    upstream: str, transport: httpx.AsyncHTTPTransport, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with make(upstream, AUTHS["query"], "/query", transport) as connector:
        await connector.call("call", {"city": "Oslo"}, context())
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "HTTP Request: GET" in logged and "city=Oslo" in logged and "appid=%2A%2A%2A" in logged
    assert_clean(logged)


@pytest.mark.parametrize(
    ("auth", "message"),
    [
        ({"type": "header", "name": "Bad Header", "secret": "k"}, "not a valid header name"),
        ({"type": "basic", "username": "a:b", "secret": "k"}, "must not contain ':'"),
        ({"type": "bearer", "secret": "bad name!"}, "should match pattern"),
        ({"type": "bearer", "secret": "k", "per_agent": {"a": ""}}, "should match pattern"),
        (
            {"type": "oauth2_client_credentials", "token_url": "ftp://x", "client_id": "c", "secret": "k"},
            "http",
        ),
        ({"type": "digest", "secret": "k"}, "does not match any of the expected tags"),
    ],
)
def test_auth_configs_are_validated(auth: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        make("http://127.0.0.1:1", auth, "/x")


async def test_openapi_connectors_carry_auth_into_their_http_config() -> None:
    spec = {
        "openapi": "3.1.0",
        "info": {"title": "t", "version": "1"},
        "servers": [{"url": "https://api.example.com"}],
        "paths": {"/x": {"get": {"operationId": "get_x", "responses": {"200": {"description": "ok"}}}}},
    }
    config = OpenAPIConnectorConfig.model_validate(
        {"kind": "openapi", "name": "api", "spec": spec, "auth": {"type": "bearer", "secret": "api-key"}}
    )
    converted = openapi_to_http(config)
    assert converted.auth == config.auth
    async with HttpConnector(converted) as connector:
        assert connector.secret_refs() == {"api-key"}


def test_secret_refs_serve_other_connector_kinds_too() -> None:
    """What a SQL password or a stdio server's environment uses: a SecretRef and its value."""
    ref = SecretRef.model_validate({"secret": "crm-db", "per_agent": {"alice-bot": "crm-db-alice"}})
    assert ref.secret_refs() == {"crm-db", "crm-db-alice"}
    both = {"crm-db": "p1", "crm-db-alice": "p2"}
    assert ref.value(CallContext(agent="alice-bot", secrets=both), "db") == "p2"
    assert ref.value(CallContext(agent="bob-bot", secrets=both), "db") == "p1"
    with pytest.raises(MissingCredential, match="upstream 'db' is not configured: the secret 'crm-db-alice'"):
        ref.value(CallContext(agent="alice-bot", secrets={"crm-db": "p1"}), "db")
    assert fingerprint(["p1", "p2"]) == fingerprint(["p2", "p1"]) != fingerprint(["p1"])
    assert "p1" not in fingerprint(["p1"])
