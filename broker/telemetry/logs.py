"""Structured JSON logs (`BROKER_LOG_FORMAT=json`), each line with the request id that also
names the request's audit record or ledger entry and comes back in the `X-Request-Id` header.

Messages and exception texts pass through the same PII and secret scrubber as audit records
(`broker.pii.scrub`), so a value an upstream echoed into an error does not reach the log.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from urllib.parse import unquote

from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID: ContextVar[str | None] = ContextVar("broker_request_id", default=None)
_SANE = re.compile(r"[A-Za-z0-9._:-]{1,36}")


def current_request_id() -> str | None:
    return REQUEST_ID.get()


def correlation_ids() -> dict[str, str]:
    """The current request's id and trace id (those known), for error bodies: an error a
    caller pastes into a report then leads to its log lines, audit record and trace."""
    from broker.telemetry.tracing import current_trace_id

    ids = {"request_id": REQUEST_ID.get(), "trace_id": current_trace_id()}
    return {key: value for key, value in ids.items() if value is not None}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        from broker.pii import scrub
        from broker.telemetry.tracing import current_trace_id

        line: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": scrub(_decoded(record.getMessage())),
        }
        request_id = REQUEST_ID.get()
        if request_id is not None:
            line["request_id"] = request_id
        trace_id = current_trace_id()
        if trace_id is not None:
            line["trace_id"] = trace_id
        if record.exc_info:
            line["exception"] = scrub(self.formatException(record.exc_info))
        return json.dumps(line, ensure_ascii=False)


def _decoded(text: str) -> str:
    """Percent-decoded (access log paths), so `alice%40example.com` is seen as the e-mail it is."""
    return unquote(text) if "%" in text else text


def configure_json_logs(level: str) -> None:
    """Every logger (the gateway's and uvicorn's) writes JSON lines to stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers = []
        logging.getLogger(name).propagate = True


_VERSION_4 = (0x4000 << 64) | (0x8000 << 48)
_NOT_VERSION = ~((0xF000 << 64) | (0xC000 << 48))


def new_request_id() -> str:
    """`str(uuid.uuid4())` without building a `UUID` (its checks cost more than the randomness)."""
    text = f"{int.from_bytes(os.urandom(16)) & _NOT_VERSION | _VERSION_4:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def request_id_of(headers: list[tuple[bytes, bytes]]) -> str:
    """The caller's `X-Request-Id` when it is a short plain token, else a new id."""
    given = next((v for k, v in headers if k == b"x-request-id"), b"").decode("latin-1")
    return given if _SANE.fullmatch(given) else new_request_id()


class RequestIds:
    """ASGI middleware: a request id per HTTP request (the caller's `X-Request-Id` when it is a
    short plain token, else a new one), set for logs and records and returned in the reply."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_of(scope["headers"])
        token = REQUEST_ID.set(request_id)
        encoded = request_id.encode()

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = message.get("headers", ())
                for name, _ in headers:
                    if name.lower() == b"x-request-id":  # the LLM proxy sets it
                        break
                else:
                    message["headers"] = [*headers, (b"x-request-id", encoded)]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            REQUEST_ID.reset(token)
