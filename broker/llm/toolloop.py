"""The gateway runs the tool loop: a chat completion asked with the agent's MCP tools
(`"tools": [{"type": "mcp", "server_label": "broker"}]`) is answered by the model *and* the
gateway together.

The model is offered exactly the tools the agent's policy grants (as functions; a name's dots
become `__`, which function names allow), each call it makes runs through the tool pipeline
(policy, validation, cache, masking with tokens, credentials, audit) under the call's request
id, the results go back as `tool` messages, and this repeats until the model answers or
`max_steps` model calls were made. A tool the model names that the policy does not grant is
refused by the pipeline like any call, and the model is told so. Every step is metered (budgets
and rate limits admit each step, so the budget covers the whole loop) and is a ledger row
under the one request id; the client gets the final answer, whole or as a stream.

A call to one of the client's own functions ends the loop: the client gets that answer to run
its function, as it would without the gateway.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from broker.catalog import AgentIdentity
from broker.llm.asgi import Exchange, send_json
from broker.llm.errors import BadRequest, UpstreamError
from broker.llm.metering import ModelCall
from broker.llm.usage import Usage
from broker.llm.whole import complete_whole

if TYPE_CHECKING:
    from broker.llm.proxy import LlmProxy

GATEWAY_TOOL = "mcp"
SEPARATOR = "__"
BAD_ARGUMENTS = "error: the arguments are not a JSON object; call the tool again with valid JSON"

RunTool = Callable[[AgentIdentity, str, str, dict[str, Any]], Awaitable[tuple[str, bool]]]
"""(agent, request id, tool name, arguments) -> (text for the model, is_error)."""
OfferTools = Callable[[AgentIdentity], list[tuple[str, str, dict[str, Any]]]]
"""agent -> the granted tools as (name, description, input schema)."""


@dataclass(frozen=True, slots=True)
class GatewayTools:
    offer: OfferTools
    run: RunTool
    max_steps: int = 8


def wants_gateway_tools(payload: dict[str, Any]) -> bool:
    tools = payload.get("tools")
    return isinstance(tools, list) and any(
        isinstance(t, dict) and t.get("type") == GATEWAY_TOOL for t in tools
    )


def function_name(tool: str) -> str:
    return tool.replace(".", SEPARATOR)


def _offered(
    tools: GatewayTools, agent: AgentIdentity, spec: dict[str, Any]
) -> tuple[list[Any], dict[str, str]]:
    allowed = spec.get("allowed_tools")
    wanted = set(allowed) if isinstance(allowed, list) else None
    functions, names = [], {}
    for name, description, schema in tools.offer(agent):
        if wanted is not None and name not in wanted and function_name(name) not in wanted:
            continue
        names[function_name(name)] = name
        parameters = schema if schema.get("type") == "object" else {"type": "object", "properties": {}}
        functions.append(
            {
                "type": "function",
                "function": {
                    "name": function_name(name),
                    "description": description,
                    "parameters": parameters,
                },
            }
        )
    return functions, names


@dataclass(slots=True)
class LoopResult:
    body: dict[str, Any]
    """The final chat completion (usage summed over every step)."""
    steps: int
    calls: list[dict[str, Any]]
    """What the gateway ran: name, arguments, output, error."""


async def run_loop(
    proxy: LlmProxy, exchange: Exchange, call: ModelCall, payload: dict[str, Any]
) -> LoopResult:
    tools = proxy.gateway_tools
    if tools is None:
        raise BadRequest("this gateway does not run tools for model calls")
    spec = next(t for t in payload["tools"] if isinstance(t, dict) and t.get("type") == GATEWAY_TOOL)
    functions, names = _offered(tools, call.agent, spec)
    client_tools = [
        t for t in payload["tools"] if not (isinstance(t, dict) and t.get("type") == GATEWAY_TOOL)
    ]
    client_names = {
        t.get("function", {}).get("name")
        for t in client_tools
        if isinstance(t, dict) and t.get("type") == "function"
    }
    messages = list(payload.get("messages") or [])
    request = {k: v for k, v in payload.items() if k not in ("tools", "stream", "stream_options", "messages")}
    if functions or client_tools:
        request["tools"] = client_tools + functions
    route = call.route
    assert route is not None
    total = Usage()
    ran: list[dict[str, Any]] = []
    for step in range(1, tools.max_steps + 1):
        last = step == tools.max_steps
        body = {**request, "messages": messages}
        if last:
            body.pop("tools", None)  # the last step must answer in words
            body.pop("tool_choice", None)
        answer, step_call = await model_step(proxy, exchange.headers, call, body)
        total = _add(total, step_call.usage or Usage())
        message = _first_message(answer)
        tool_calls = message.get("tool_calls") if isinstance(message, dict) else None
        ours = [c for c in tool_calls or [] if _called(c) not in client_names]
        if not tool_calls or len(ours) < len(tool_calls) or last:
            _as_final(call, step_call)
            answer["usage"] = {
                "prompt_tokens": total.prompt,
                "completion_tokens": total.completion,
                "total_tokens": total.total,
            }
            return LoopResult(answer, step, ran)
        await proxy.metering.finish(step_call)
        messages.append({"role": "assistant", "content": message.get("content"), "tool_calls": tool_calls})
        for tool_call in ours:
            name = _called(tool_call)
            tool = names.get(name, name.replace(SEPARATOR, "."))
            arguments = _arguments(tool_call)
            if arguments is None:
                text, failed = (
                    "error: the arguments are not a JSON object; call the tool again with valid JSON",
                    True,
                )
            else:
                text, failed = await tools.run(call.agent, call.request_id, tool, arguments)
            ran.append({"name": tool, "arguments": arguments, "output": text, "error": failed})
            messages.append({"role": "tool", "tool_call_id": tool_call.get("id", ""), "content": text})
    raise AssertionError("unreachable: the last step always answers")  # pragma: no cover


def _add(a: Usage, b: Usage) -> Usage:
    return Usage(
        a.prompt + b.prompt, a.completion + b.completion, a.cached + b.cached, a.estimated or b.estimated
    )


def _called(tool_call: Any) -> str:
    function = tool_call.get("function") if isinstance(tool_call, dict) else None
    return str(function.get("name", "")) if isinstance(function, dict) else ""


def _arguments(tool_call: dict[str, Any]) -> dict[str, Any] | None:
    raw = tool_call.get("function", {}).get("arguments")
    try:
        value = json.loads(raw) if isinstance(raw, str) and raw.strip() else {}
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _first_message(answer: dict[str, Any]) -> dict[str, Any]:
    choices = answer.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        message = choices[0].get("message")
        if isinstance(message, dict):
            return message
    raise UpstreamError("the provider's answer has no message")


def _as_final(call: ModelCall, step: ModelCall) -> None:
    """The outer call (finished by the proxy) stands for the last step."""
    call.usage, call.target, call.attempts, call.hold = step.usage, step.target, step.attempts, step.hold
    call.ttft = step.ttft


async def model_step(
    proxy: LlmProxy, headers: dict[str, str], call: ModelCall, body: dict[str, Any]
) -> tuple[dict[str, Any], ModelCall]:
    """One model call of the loop: admitted against the budgets, sent, read whole, metered."""
    step = ModelCall(call.request_id, call.agent, "chat", time.perf_counter(), datetime.now(UTC))
    step.model, step.route = call.model, call.route
    try:
        answer = await complete_whole(proxy, step, body, headers)
    except BaseException:
        _as_final(call, step)  # the proxy records the failure once, on the outer call
        raise
    return answer, step


async def send_final(exchange: Exchange, call: ModelCall, result: LoopResult, *, include_usage: bool) -> None:
    """The loop's final answer to the client, with what the gateway did on the way."""
    result.body["broker"] = {"steps": result.steps, "tool_calls": [c["name"] for c in result.calls]}
    await send_completion(exchange, call, result.body, include_usage=include_usage)


async def send_completion(
    exchange: Exchange, call: ModelCall, body: dict[str, Any], *, include_usage: bool
) -> None:
    """A finished chat completion to the client: whole, or replayed as a chat completion stream."""
    if not call.stream:
        await send_json(exchange.send, 200, body, [(b"x-request-id", call.request_id.encode())])
        return
    await exchange.send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"text/event-stream"),
                (b"cache-control", b"no-cache"),
                (b"x-request-id", call.request_id.encode()),
            ],
        }
    )
    base = {
        "id": body.get("id") or f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion.chunk",
        "created": body.get("created") or int(time.time()),
        "model": body.get("model"),
    }
    message = _first_message(body)
    finish = body["choices"][0].get("finish_reason") or "stop"
    chunks: list[dict[str, Any]] = [{"role": "assistant", "content": ""}]
    content = message.get("content") or ""
    chunks += [{"content": content[i : i + 32]} for i in range(0, len(content), 32)]
    if message.get("tool_calls"):
        chunks.append({"tool_calls": [{**c, "index": i} for i, c in enumerate(message["tool_calls"])]})
    for delta in chunks:
        event = {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}
        await exchange.send({"type": "http.response.body", "body": _sse(event), "more_body": True})
        call.first_byte()
    done: dict[str, Any] = {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]}
    await exchange.send({"type": "http.response.body", "body": _sse(done), "more_body": True})
    if include_usage:
        usage: dict[str, Any] = {**base, "choices": [], "usage": body.get("usage")}
        await exchange.send({"type": "http.response.body", "body": _sse(usage), "more_body": True})
    await exchange.send({"type": "http.response.body", "body": b"data: [DONE]\n\n", "more_body": False})


def _sse(data: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(data, separators=(",", ":")).encode() + b"\n\n"
