"""A mock LLM provider: OpenAI-compatible chat completions (streamed too), embeddings and
models, plus Anthropic's Messages API, with usage in every answer.

For tests, the demo and the benchmark. It records what it received (to check which key
arrived), can fail on demand (`fail(503, times=2)`, or POST /mock/fail), and can be slow
(`latency_seconds` before each answer, `chunk_delay_seconds` between streamed chunks).

    mock = MockLLM(api_key="sk-mock")
    with BackgroundServer(create_llm_app(mock)) as server:
        ...  # base_url f"{server.url}/v1"
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from broker.demo.upstreams import llm_replies as replies
from broker.demo.upstreams import llm_tool_use as tool_use

MODELS = ("mock-small", "mock-large", "mock-embed", "claude-mock")


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class MockLLM:
    api_key: str | None = None
    """When set, calls must carry it (Bearer or x-api-key) or get 401."""
    latency_seconds: float = 0.0
    chunk_delay_seconds: float = 0.0
    reply_words: int = 12
    usage: bool = True
    """False: answers carry no usage (the gateway must estimate)."""
    record: bool = True
    received: list[Received] = field(default_factory=list)
    streams_completed: int = 0
    streams_cancelled: int = 0
    _failures: list[int] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def fail(self, status: int = 503, times: int = 1) -> None:
        """Answer the next `times` calls with `status` (0: drop the connection)."""
        with self._lock:
            self._failures += [status] * times

    def reset(self) -> None:
        with self._lock:
            self._failures.clear()
            self.received.clear()

    def next_failure(self) -> int | None:
        with self._lock:
            return self._failures.pop(0) if self._failures else None


def create_llm_app(mock: MockLLM | None = None) -> Starlette:
    state = mock or MockLLM()

    async def admit(request: Request) -> tuple[dict[str, Any], Response | None]:
        body = json.loads(await request.body() or b"{}")
        if state.record:
            state.received.append(Received(request.url.path, dict(request.headers), body))
        if state.latency_seconds:
            await asyncio.sleep(state.latency_seconds)
        failure = state.next_failure()
        if failure is not None:
            return body, JSONResponse({"error": {"message": "mock failure", "type": "server_error"}}, failure)
        if state.api_key is not None:
            sent = request.headers.get("authorization", "").removeprefix("Bearer ") or request.headers.get(
                "x-api-key"
            )
            if sent != state.api_key:
                return body, JSONResponse({"error": {"message": f"bad key {sent}", "type": "auth"}}, 401)
        if body.get("model") not in MODELS:
            return body, JSONResponse(
                {"error": {"message": "no such model", "type": "invalid_request_error"}}, 404
            )
        return body, None

    async def counted(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        """Count streams that ran to their end and streams the client (the gateway) cut off."""
        completed = False
        try:
            async for chunk in chunks:
                yield chunk
            completed = True
        finally:
            if completed:
                state.streams_completed += 1
            else:
                state.streams_cancelled += 1

    async def chat(request: Request) -> Response:
        body, refused = await admit(request)
        if refused is not None:
            return refused
        words = replies.reply_words(body, state.reply_words)
        prompt = replies.count_tokens(replies.prompt_text(body))
        chunks: Iterable[dict[str, Any]] | None = None
        if tool_use.scripted_calls(body):
            call = tool_use.next_tool_call(body)
            if call is not None and not body.get("stream"):
                return JSONResponse(tool_use.tool_call_completion(body, call, prompt))
            if call is not None:
                chunks = tool_use.tool_call_chunks(body, call, prompt)
            words = tool_use.final_words(body)
        if not body.get("stream"):
            return JSONResponse(replies.completion(body, words, prompt, usage=state.usage))
        chunks = chunks or replies.completion_chunks(body, words, prompt, usage=state.usage)
        delay = replies.chunk_delay(body, state.chunk_delay_seconds)
        cut = replies.cut_after(body)

        async def stream() -> AsyncIterator[bytes]:
            for i, chunk in enumerate(chunks):
                if i and delay:
                    await asyncio.sleep(delay)
                if i == cut:
                    raise ConnectionAbortedError("mock provider cut the stream")
                yield b"data: " + json.dumps(chunk).encode() + b"\n\n"
            yield b"data: [DONE]\n\n"

        return StreamingResponse(counted(stream()), media_type="text/event-stream")

    async def embeddings(request: Request) -> Response:
        body, refused = await admit(request)
        return refused or JSONResponse(replies.embeddings(body, usage=state.usage))

    async def messages(request: Request) -> Response:
        body, refused = await admit(request)
        if refused is not None:
            return refused
        words = replies.reply_words(body, state.reply_words)
        prompt = replies.count_tokens(replies.prompt_text(body))
        events: Iterable[tuple[str, dict[str, Any]]] | None = None
        if tool_use.scripted_calls(body):
            call = tool_use.next_tool_call(body)
            if call is not None and not body.get("stream"):
                return JSONResponse(tool_use.tool_use_message(body, call, prompt))
            if call is not None:
                events = tool_use.tool_use_events(body, call, prompt)
            words = tool_use.final_words(body)
        if not body.get("stream"):
            return JSONResponse(replies.message(body, words, prompt))
        delay = replies.chunk_delay(body, state.chunk_delay_seconds)
        events = events or replies.message_events(body, words, prompt)

        async def stream() -> AsyncIterator[bytes]:
            for i, (name, event) in enumerate(events):
                if i > 2 and delay:
                    await asyncio.sleep(delay)
                yield f"event: {name}\ndata: {json.dumps(event)}\n\n".encode()

        return StreamingResponse(counted(stream()), media_type="text/event-stream")

    async def models(_: Request) -> Response:
        data = [{"id": m, "object": "model", "created": 0, "owned_by": "mock"} for m in MODELS]
        return JSONResponse({"object": "list", "data": data})

    async def control_fail(request: Request) -> Response:
        body = await request.json()
        state.fail(int(body.get("status", 503)), int(body.get("times", 1)))
        return JSONResponse({"ok": True})

    async def healthz(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    return Starlette(
        routes=[
            Route("/v1/chat/completions", chat, methods=["POST"]),
            Route("/v1/embeddings", embeddings, methods=["POST"]),
            Route("/v1/messages", messages, methods=["POST"]),
            Route("/v1/models", models, methods=["GET"]),
            Route("/mock/fail", control_fail, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
        ]
    )
