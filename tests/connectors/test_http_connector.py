"""The HTTP connector against a real upstream on loopback; httpx.MockTransport only for
network conditions a real server cannot easily produce."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from connectors.base import Connector
from connectors.errors import (
    ConnectorError,
    UnknownTool,
    UpstreamBadResponse,
    UpstreamHTTPError,
    UpstreamTimeout,
    UpstreamUnreachable,
)
from connectors.http.connector import HttpConnector, HttpConnectorConfig

ANY_ARGS = {"type": "object", "properties": {}, "additionalProperties": True}


def make_config(base_url: str, *tools: dict[str, Any], **overrides: Any) -> HttpConnectorConfig:
    return HttpConnectorConfig.model_validate(
        {
            "kind": "http",
            "name": "test",
            "base_url": base_url,
            "allow_private_network": True,  # the test upstream is on loopback
            "tools": list(tools),
            **overrides,
        }
    )


def simple_tool(name: str, path: str, **overrides: Any) -> dict[str, Any]:
    return {"name": name, "description": name, "path": path, "input_schema": ANY_ARGS, **overrides}


ECHO_TOOLS = [
    {
        "name": "post_item",
        "description": "Echo a POST.",
        "method": "POST",
        "path": "/echo/items/{id}",
        "query": ["q", "tag"],
        "headers": {"X-Tool": "post"},
        "input_schema": {
            "type": "object",
            "properties": {
                "id": {"type": "string"},
                "q": {"type": "string"},
                "tag": {"type": "array"},
                "name": {"type": "string"},
                "count": {"type": "integer"},
            },
            "required": ["id"],
        },
    },
    simple_tool("get_things", "/echo/things"),
    simple_tool(
        "delete_thing",
        "/echo/things/{id}",
        method="DELETE",
        input_schema={
            "type": "object",
            "properties": {"id": {"type": "integer"}},
            "required": ["id"],
        },
    ),
    simple_tool(
        "put_tags",
        "/echo/tags",
        method="PUT",
        body_argument="tags",
        input_schema={
            "type": "object",
            "properties": {"tags": {"type": "array"}, "dry": {"type": "boolean"}},
        },
    ),
    simple_tool(
        "patch_explicit",
        "/echo/p",
        method="PATCH",
        query=["v"],
        body=[],
        input_schema={
            "type": "object",
            "properties": {"v": {"type": "integer"}},
        },
    ),
]


@pytest.fixture
async def echo(upstream: str) -> AsyncIterator[HttpConnector]:
    config = make_config(upstream, *ECHO_TOOLS, headers={"X-Connector": "yes"})
    async with HttpConnector(config) as connector:
        yield connector


async def test_is_a_connector(echo: HttpConnector) -> None:
    assert isinstance(echo, Connector)
    assert [spec.name for spec in echo.tools()] == [tool["name"] for tool in ECHO_TOOLS]


async def test_maps_path_query_and_body_with_encoding(echo: HttpConnector) -> None:
    result = await echo.call(
        "post_item",
        {"id": "a/b c?ü", "q": "x&y=z", "tag": ["red", "blue"], "name": "Zoë", "count": 3},
    )
    answer = result.structured
    assert answer is not None
    assert answer["method"] == "POST"
    assert answer["raw_path"] == "/echo/items/a%2Fb%20c%3F%C3%BC"
    assert answer["query"] == [["q", "x&y=z"], ["tag", "red"], ["tag", "blue"]]
    assert answer["json"] == {"name": "Zoë", "count": 3}, "unmapped arguments of a POST go to the body"
    assert answer["headers"] == {"content-type": "application/json", "x-connector": "yes", "x-tool": "post"}
    assert result.meta == {"http_status": 200}
    assert result.content[0]["type"] == "text" and '"method":"POST"' in result.content[0]["text"]


async def test_get_sends_unmapped_arguments_as_query_and_drops_nulls(echo: HttpConnector) -> None:
    result = await echo.call("get_things", {"flag": True, "n": 2.5, "missing": None, "obj": {"a": 1}})
    assert result.structured is not None
    assert result.structured["query"] == [["flag", "true"], ["n", "2.5"], ["obj", '{"a":1}']]
    assert result.structured["json"] is None


async def test_delete_sends_unmapped_arguments_as_query(echo: HttpConnector) -> None:
    result = await echo.call("delete_thing", {"id": 7, "reason": "old"})
    assert result.structured is not None
    assert (result.structured["raw_path"], result.structured["query"]) == (
        "/echo/things/7",
        [["reason", "old"]],
    )


async def test_body_argument_is_the_whole_body(echo: HttpConnector) -> None:
    result = await echo.call("put_tags", {"tags": ["a", "b"], "dry": False})
    assert result.structured is not None
    assert result.structured["json"] == ["a", "b"]
    assert result.structured["query"] == [["dry", "false"]]


async def test_an_explicit_empty_body_is_sent_as_an_empty_object(echo: HttpConnector) -> None:
    result = await echo.call("patch_explicit", {"v": 1})
    assert result.structured is not None
    assert (result.structured["json"], result.structured["query"]) == ({}, [["v", "1"]])


@pytest.mark.parametrize("value", ["..", ".", ""])
async def test_path_values_cannot_climb_out_of_the_route(echo: HttpConnector, value: str) -> None:
    with pytest.raises(ConnectorError, match=r"argument 'id' cannot be"):
        await echo.call("post_item", {"id": value})


async def test_unknown_tool(echo: HttpConnector) -> None:
    with pytest.raises(UnknownTool, match="upstream 'test' has no tool 'nope'"):
        await echo.call("nope", {})


async def call_once(
    base_url: str, path: str, arguments: dict[str, Any] | None = None, **overrides: Any
) -> Any:
    async with HttpConnector(make_config(base_url, simple_tool("t", path), **overrides)) as connector:
        return await connector.call("t", arguments or {})


async def test_json_that_is_not_an_object_is_wrapped(upstream: str) -> None:
    result = await call_once(upstream, "/list")
    assert result.structured == {"result": [1, 2, 3]}
    assert result.content == [{"type": "text", "text": "[1,2,3]"}]


async def test_no_content_gives_null(upstream: str) -> None:
    result = await call_once(upstream, "/status/204")
    assert (result.content, result.structured) == ([{"type": "text", "text": "null"}], {"result": None})
    assert result.meta == {"http_status": 204}


@pytest.mark.parametrize(
    ("path", "arguments", "status", "message"),
    [
        ("/status/404", {}, 404, "upstream 'test' answered 404 Not Found: custom 404 failure"),
        (
            "/status/500",
            {"message": "db  is\n down"},
            500,
            "upstream 'test' answered 500 Internal Server Error: db is down",
        ),
        ("/nested-error", {}, 502, "upstream 'test' answered 502 Bad Gateway: backend exploded"),
    ],
)
async def test_error_statuses_carry_the_upstream_message(
    upstream: str, path: str, arguments: dict[str, Any], status: int, message: str
) -> None:
    with pytest.raises(UpstreamHTTPError) as caught:
        await call_once(upstream, path, arguments)
    assert (caught.value.status_code, caught.value.message) == (status, message)


async def test_long_error_messages_are_cut_short(upstream: str) -> None:
    with pytest.raises(UpstreamHTTPError) as caught:
        await call_once(upstream, "/status/503", {"message": "x" * 5000})
    assert caught.value.message.endswith("x…")
    assert len(caught.value.message) < 300


async def test_error_excerpts_never_repeat_configured_credentials(upstream: str) -> None:
    token = "s3cr3t-t0ken-value"
    with pytest.raises(UpstreamHTTPError) as caught:
        await call_once(upstream, "/echo-auth-error", headers={"Authorization": f"Bearer {token}"})
    assert caught.value.status_code == 401
    assert token not in caught.value.message
    assert caught.value.message == "upstream 'test' answered 401 Unauthorized: bad credentials: ***"


async def test_timeout(upstream: str) -> None:
    with pytest.raises(UpstreamTimeout) as caught:
        await call_once(upstream, "/slow", {"seconds": 1}, timeout_seconds=0.2)
    assert caught.value.message == "upstream 'test' did not answer within 0.2 s"


async def test_refused_connection_names_host_and_port(closed_port: int) -> None:
    with pytest.raises(UpstreamUnreachable) as caught:
        await call_once(f"http://127.0.0.1:{closed_port}", "/anything")
    assert caught.value.message.startswith(
        f"upstream 'test' is unreachable: cannot connect to 127.0.0.1:{closed_port}"
    )


async def test_non_json_answer(upstream: str) -> None:
    with pytest.raises(UpstreamBadResponse) as caught:
        await call_once(upstream, "/text")
    assert caught.value.message == (
        "upstream 'test' answered with text/plain; charset=utf-8, not JSON: hello, this is not JSON"
    )


async def test_oversized_answer(upstream: str) -> None:
    assert (await call_once(upstream, "/big", {"n": 500}, max_response_bytes=1024)).structured == {
        "data": "x" * 500
    }
    with pytest.raises(UpstreamBadResponse) as caught:
        await call_once(upstream, "/big", {"n": 5000}, max_response_bytes=1024)
    assert (
        caught.value.message == "upstream 'test' sent more than the 1 KiB response limit (max_response_bytes)"
    )


async def test_the_limit_counts_decompressed_bytes(upstream: str) -> None:
    with pytest.raises(UpstreamBadResponse, match="more than the 1 MiB response limit"):
        await call_once(upstream, "/gzip-bomb")


async def test_redirects_are_not_followed(upstream: str) -> None:
    with pytest.raises(UpstreamBadResponse, match="answered 302 Found, a redirect, which is not followed"):
        await call_once(upstream, "/redirect")


# Odd network conditions, through httpx.MockTransport.


async def call_mocked(handler: Callable[[httpx.Request], httpx.Response], **overrides: Any) -> Any:
    config = make_config("https://api.example.invalid/v1", simple_tool("t", "/x"), **overrides)
    async with HttpConnector(config, transport=httpx.MockTransport(handler)) as connector:
        return await connector.call("t", {})


def raising(exc: type[httpx.TransportError], message: str) -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc(message, request=request)

    return handler


async def test_dns_failure_is_unreachable() -> None:
    with pytest.raises(UpstreamUnreachable) as caught:
        await call_mocked(raising(httpx.ConnectError, "[Errno -2] Name or service not known"))
    assert caught.value.message == (
        "upstream 'test' is unreachable: cannot connect to api.example.invalid:443 "
        "([Errno -2] Name or service not known)"
    )


async def test_connection_reset_is_unreachable() -> None:
    with pytest.raises(UpstreamUnreachable, match=r"connection to api.example.invalid:443 failed \(reset\)"):
        await call_mocked(raising(httpx.ReadError, "reset"))


async def test_protocol_violation_is_unreachable() -> None:
    with pytest.raises(UpstreamUnreachable, match="broke the HTTP protocol"):
        await call_mocked(raising(httpx.RemoteProtocolError, "illegal header"))


async def test_connect_timeout_is_a_timeout() -> None:
    with pytest.raises(UpstreamTimeout, match="did not answer within 3 s"):
        await call_mocked(raising(httpx.ConnectTimeout, "timed out"), timeout_seconds=3)


async def test_a_declared_oversized_length_is_refused_before_reading() -> None:
    class Endless(httpx.AsyncByteStream):
        async def __aiter__(self) -> AsyncIterator[bytes]:
            raise AssertionError("the body must not be read")
            yield b""  # pragma: no cover

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"Content-Length": str(10**9)}, stream=Endless())

    with pytest.raises(UpstreamBadResponse, match="1 MiB response limit"):
        await call_mocked(handler)


async def test_undecodable_body() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"Content-Encoding": "gzip"}, content=b"not gzip at all")

    with pytest.raises(UpstreamBadResponse, match="undecodable body"):
        await call_mocked(handler)


async def test_an_injected_transport_stays_open_for_its_owner() -> None:
    closed: list[bool] = []

    class Shared(httpx.MockTransport):
        async def aclose(self) -> None:
            closed.append(True)

    shared = Shared(lambda request: httpx.Response(200, json={"ok": True}))
    for _ in range(2):
        config = make_config("https://api.example.invalid", simple_tool("t", "/x"))
        async with HttpConnector(config, transport=shared) as connector:
            assert (await connector.call("t", {})).structured == {"ok": True}
    assert closed == []


class ClosesIdleConnections:
    """A raw HTTP/1.1 upstream that answers the first request of each connection with
    keep-alive headers and closes the connection, unanswered, when a second request arrives
    on it: what a server does when its idle timeout fires just as the client's pool reuses
    the connection. Records the requests it answered and the ones it dropped."""

    def __init__(self) -> None:
        self.answered: list[str] = []
        self.dropped: list[str] = []
        self.server: asyncio.Server | None = None

    async def __aenter__(self) -> str:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            self.answered.append(await self._read(reader))
            body = b'{"ok": true}'
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: keep-alive\r\n"
                b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
            )
            await writer.drain()
            self.dropped.append(await self._read(reader))
        except asyncio.IncompleteReadError:
            pass
        writer.close()

    @staticmethod
    async def _read(reader: asyncio.StreamReader) -> str:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        length = next(
            (int(line.split(b":")[1]) for line in lines if line.lower().startswith(b"content-length")), 0
        )
        await reader.readexactly(length)
        return head.split(b" ", 1)[0].decode()


async def test_an_idempotent_call_survives_an_upstream_closing_a_kept_alive_connection() -> None:
    upstream = ClosesIdleConnections()
    async with upstream as url:
        tools = [simple_tool("read", "/r"), simple_tool("write", "/w", method="POST")]
        async with HttpConnector(make_config(url, *tools)) as connector:
            for _ in range(3):  # each call after the first meets the dropped connection, and is sent again
                assert (await connector.call("read", {})).structured == {"ok": True}
            assert upstream.answered == ["GET"] * 3 and upstream.dropped == ["GET"] * 2
            with pytest.raises(UpstreamUnreachable):  # a POST may have reached the application: not resent
                await connector.call("write", {})
            assert "POST" not in upstream.answered and upstream.dropped.count("POST") == 1
