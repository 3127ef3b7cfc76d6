"""The request an HTTP tool call sends: method, request target, headers and body, built from
the tool's declaration, the call's arguments and the injected credentials (the mapping rules
are in connectors/http/connector.py's docstring).

The target is built as httpx builds it from `base_url + path` and the query parameters
(`urlencode`, httpx's spelling of scalars), so both senders (the lean client and an injected
httpx transport) send the same bytes. When the static part of a base URL or path needs
httpx's normalisation (a query of its own, dot segments, characters it would percent-encode),
that tool's target is built by httpx itself, per call.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import httpx

from connectors.auth import NO_CREDENTIALS, Credentials
from connectors.errors import ConnectorError
from connectors.http.config import (
    OBJECT_BODY_METHODS,
    PLACEHOLDER,
    HttpConnectorConfig,
    HttpToolConfig,
    placeholders,
)
from connectors.http.forms import form_pairs, multipart_parts
from connectors.http.template import fill_template, template_arguments

_CONTENT_TYPES = {"json": "application/json", "form": "application/x-www-form-urlencoded"}
_PLAIN_PATH = re.compile(r"(?:/(?:[A-Za-z0-9\-_~!$&'()*+,;=:@]|%[0-9A-Fa-f]{2}|\.(?!\.?(?:/|$)))*)+")
"""A path httpx sends as written: segments of characters it leaves alone, no dot segments."""
_UNRESERVED = re.compile(r"[A-Za-z0-9_.~-]*")
"""What `urlencode` writes as it is (`quote_plus`'s always-safe characters)."""
_MAX_URL_LENGTH = 65536  # httpx refuses longer URLs (InvalidURL "URL too long")


@dataclass(frozen=True, slots=True)
class Outgoing:
    method: str
    target: str
    """Path and query, as on the request line."""
    headers: dict[str, str]
    """Every header but Host and Content-Length (the client's defaults included)."""
    body: bytes | None


class RequestBuilder:
    """Builds the `Outgoing` request of each call of one connector's tools."""

    def __init__(self, config: HttpConnectorConfig, default_headers: Mapping[str, str]) -> None:
        self.name = config.name
        self.base_url = config.base_url.rstrip("/")
        self.url = httpx.URL(self.base_url)
        self.origin = f"{self.url.scheme}://{self.url.netloc.decode('ascii')}"
        self._base_path = self.url.raw_path.decode("ascii").rstrip("/") if not self.url.query else None
        self._defaults = _merged({}, default_headers.items())
        self._plain = {
            tool.name: self._base_path is not None
            and _PLAIN_PATH.fullmatch(self._base_path + PLACEHOLDER.sub("x", tool.path)) is not None
            for tool in config.tools
        }
        self._mapped = {tool.name: _mapped(tool) for tool in config.tools}
        self._headers = {tool.name: _merged(self._defaults, tool.headers.items()) for tool in config.tools}

    def build(
        self, tool: HttpToolConfig, arguments: Mapping[str, Any], credentials: Credentials = NO_CREDENTIALS
    ) -> Outgoing:
        path = (
            PLACEHOLDER.sub(lambda match: self._segment(match.group(1), arguments), tool.path)
            if "{" in tool.path
            else tool.path
        )
        query_names, body_names = list(tool.query), list(tool.body or ())
        mapped = self._mapped[tool.name]
        rest_to_body = tool.method in OBJECT_BODY_METHODS and tool.body_argument is None
        for name in arguments:
            if name not in mapped:
                (body_names if rest_to_body else query_names).append(name)
        params: list[tuple[str, Any]] = [*tool.fixed_query.items()]
        params += [
            (name, text)
            for name in query_names
            if arguments.get(name) is not None
            for text in (
                map(_text, arguments[name]) if isinstance(arguments[name], list) else [_text(arguments[name])]
            )
        ]
        if credentials.params:  # the credential wins over an argument of the same name
            params = [p for p in params if p[0] not in credentials.params]
            params += credentials.params.items()
        headers = dict(self._headers[tool.name])
        content, content_type = self._body(tool, arguments, body_names)
        for name in tool.header_arguments:
            if arguments.get(name) is not None:
                _set(headers, name, self._header_value(name, arguments[name]))
        cookies = [
            f"{name}={quote(self._header_value(name, arguments[name]), safe='')}"
            for name in tool.cookie_arguments
            if arguments.get(name) is not None
        ]
        if cookies:
            _set(headers, "Cookie", "; ".join(cookies))
        for name, value in credentials.headers.items():  # case-insensitively replaces a header of that name
            _set(headers, name, value)
        if content_type is not None and "content-type" not in headers:
            headers["content-type"] = ("Content-Type", content_type)
        return Outgoing(tool.method, self._target(tool, path, params), dict(headers.values()), content)

    def _body(
        self, tool: HttpToolConfig, arguments: Mapping[str, Any], body_names: list[str]
    ) -> tuple[bytes | None, str | None]:
        """The body and the Content-Type it goes with (unless a header sets one)."""
        template = tool.body_template
        content: bytes | None = None
        if tool.body_encoding != "json" and (tool.body is not None or body_names):
            fields = {name: arguments[name] for name in body_names if name in arguments}
            if tool.body_encoding == "form":
                content = urlencode(form_pairs(fields)).encode()
            else:  # httpx's multipart encoder, boundary and all
                files = multipart_parts(fields, tool.input_schema.get("properties", {}))
                encoded = httpx.Request(tool.method, self.origin, files=files)
                return encoded.read(), encoded.headers["Content-Type"]
        elif tool.body_argument is not None:
            if tool.body_argument in arguments:
                content = _json_bytes(arguments[tool.body_argument])
        elif template is not None:
            added = {name: arguments[name] for name in body_names if name in arguments}
            content = _json_bytes({**fill_template(template, arguments), **added})
        elif tool.body is not None or body_names:
            content = _json_bytes({name: arguments[name] for name in body_names if name in arguments})
        return content, (_CONTENT_TYPES[tool.body_encoding] if content is not None else None)

    def _target(self, tool: HttpToolConfig, path: str, params: list[tuple[str, Any]]) -> str:
        try:
            if self._plain[tool.name]:
                assert self._base_path is not None
                pairs = [(str(name), _primitive(value)) for name, value in params]
                full = self._base_path + path
                target = f"{full}?{_query(pairs)}" if pairs else full
                if len(self.origin) + len(target) > _MAX_URL_LENGTH:
                    raise httpx.InvalidURL("URL too long")
                return target
            return httpx.Request(tool.method, self.base_url + path, params=params).url.raw_path.decode(
                "ascii"
            )
        except (httpx.InvalidURL, ValueError) as exc:  # e.g. a query string past httpx's length limit
            raise ConnectorError(
                f"upstream '{self.name}': the request cannot be sent as given ({exc}); "
                "shorten or change the arguments"
            ) from None

    def _header_value(self, name: str, value: Any) -> str:
        text = _text(value)
        if any(ord(c) < 32 or ord(c) == 127 for c in text):  # CR/LF would start another header
            raise ConnectorError(f"upstream '{self.name}': argument '{name}' cannot hold control characters")
        return text

    def _segment(self, name: str, arguments: Mapping[str, Any]) -> str:
        value = arguments.get(name)
        if value is None:
            raise ConnectorError(f"upstream '{self.name}': argument '{name}' is required")
        text = _text(value)
        if text in ("", ".", ".."):
            raise ConnectorError(f"upstream '{self.name}': argument '{name}' cannot be {text!r}")
        return quote(text, safe="")


def _mapped(tool: HttpToolConfig) -> frozenset[str | None]:
    """The argument names the declaration places; any other argument goes to the body or query."""
    template = tool.body_template
    return frozenset(
        {
            *placeholders(tool.path), *tool.query, *(tool.body or ()), tool.body_argument,
            *tool.header_arguments, *tool.cookie_arguments,
            *(template_arguments(template) if template is not None else ()),
        }
    )  # fmt: skip


def _merged(
    base: Mapping[str, tuple[str, str]], items: Iterable[tuple[str, str]]
) -> dict[str, tuple[str, str]]:
    """Headers keyed by lower-case name, as httpx.Headers merges them: a later value replaces an
    earlier one of the same name in its place, under the later spelling."""
    headers = dict(base)
    for name, value in items:
        _set(headers, name, value)
    return headers


def _set(headers: dict[str, tuple[str, str]], name: str, value: str) -> None:
    headers[name.lower()] = (name, value)


def _query(pairs: list[tuple[str, str]]) -> str:
    """`urlencode(pairs)`; names and values that it would leave as they are (the common case:
    `city=Paris`) are joined without its per-string quoting."""
    if _UNRESERVED.fullmatch("".join([part for pair in pairs for part in pair])):
        return "&".join([f"{name}={value}" for name, value in pairs])
    return urlencode(pairs)


def _primitive(value: Any) -> str:
    """A query value as httpx spells it: true/false, '' for None, str() otherwise."""
    if value is True:
        return "true"
    if value is False:
        return "false"
    return "" if value is None else str(value)


def _text(value: Any) -> str:
    """Scalars as they read in a URL (true, 3, Paris); anything else as compact JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int | float) or value is None:
        return json.dumps(value)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _json_bytes(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
