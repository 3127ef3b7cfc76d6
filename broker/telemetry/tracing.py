"""Spans: one per HTTP request (server), one per tool-pipeline stage, GenAI attributes on model
calls; the trace id goes into audit records, the ledger and every reply (`X-Trace-Id`)."""

from __future__ import annotations

from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode, Tracer
from starlette.types import ASGIApp, Message, Receive, Scope, Send


def make_tracer(endpoint: str | None, service: str, version: str) -> tuple[Tracer, TracerProvider] | None:
    """A tracer exporting to `endpoint` (an OTLP/HTTP collector's base URL), or None (off)."""
    if not endpoint:
        return None
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    provider = TracerProvider(resource=Resource.create({"service.name": service, "service.version": version}))
    provider.add_span_processor(
        BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{endpoint.rstrip('/')}/v1/traces"))
    )
    return provider.get_tracer("tool-broker", version), provider


def current_trace_id() -> str | None:
    """The trace id of the current span as 32 hex digits, or None outside a recorded trace."""
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None


class ServerSpan:
    """The server span of one HTTP request, current while it is answered; `trace_id` is what
    goes in the `X-Trace-Id` header."""

    def __init__(self, tracer: Tracer, method: str, path: str) -> None:
        attributes: dict[str, Any] = {"http.request.method": method, "url.path": path}
        self._current = tracer.start_as_current_span(
            f"{method} {path}", kind=SpanKind.SERVER, attributes=attributes
        )
        self.trace_id = b""

    def __enter__(self) -> ServerSpan:
        self.span = self._current.__enter__()
        self.trace_id = format(self.span.get_span_context().trace_id, "032x").encode()
        return self

    def __exit__(self, *exc: Any) -> bool | None:
        return self._current.__exit__(*exc)

    def answered(self, status: int) -> None:
        self.span.set_attribute("http.response.status_code", status)
        if status >= 500:
            self.span.set_status(Status(StatusCode.ERROR))


class TraceRequests:
    """ASGI middleware: a server span per HTTP request, and its trace id in an `X-Trace-Id`
    response header (so an error reply names the trace an operator can look up)."""

    def __init__(self, app: ASGIApp, tracer: Tracer) -> None:
        self.app = app
        self.tracer = tracer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        with ServerSpan(self.tracer, scope["method"], scope["path"]) as span:

            async def send_with_id(message: Message) -> None:
                if message["type"] == "http.response.start":
                    span.answered(message["status"])
                    message["headers"] = [*message.get("headers", []), (b"x-trace-id", span.trace_id)]
                await send(message)

            await self.app(scope, receive, send_with_id)
