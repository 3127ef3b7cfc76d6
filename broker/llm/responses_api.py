"""OpenAI's Responses API at /v1/responses, served through chat completions upstream (any
OpenAI-compatible or Anthropic provider), with the agent's MCP tools run by the gateway.

The request's `instructions` and `input` (a string, or message, function_call and
function_call_output items) become chat messages; function tools keep their schema, and a
`{"type": "mcp"}` tool hands the agent's granted tools to the tool loop (toolloop.py), whose
tool calls come back as `mcp_call` output items. The answer is a `response` object, or the
Responses stream (`response.created`, `response.output_item.added`, ...
`response.output_text.delta` ..., `response.completed`). Stateless: `previous_response_id`
and `store` are not supported (the caller sends the conversation).
"""

from __future__ import annotations

import json
import time
import uuid
from typing import TYPE_CHECKING, Any

from broker.guard.answers import guard_render
from broker.llm.asgi import Exchange, send_json
from broker.llm.errors import BadRequest
from broker.llm.metering import ModelCall
from broker.llm.toolloop import GATEWAY_TOOL, LoopResult, model_step, run_loop

if TYPE_CHECKING:
    from broker.llm.proxy import LlmProxy

_PASSED = ("temperature", "top_p", "user", "metadata", "parallel_tool_calls", "tool_choice")


def to_chat(payload: dict[str, Any]) -> dict[str, Any]:
    """The chat completions request a Responses request means."""
    if payload.get("previous_response_id"):
        raise BadRequest("previous_response_id is not supported: send the whole conversation in 'input'")
    messages: list[dict[str, Any]] = []
    if isinstance(payload.get("instructions"), str):
        messages.append({"role": "system", "content": payload["instructions"]})
    items = payload.get("input")
    if isinstance(items, str):
        messages.append({"role": "user", "content": items})
    elif isinstance(items, list):
        for item in items:
            messages.extend(_item(item))
    else:
        raise BadRequest("'input' is required: a string or a list of input items")
    chat: dict[str, Any] = {"model": payload.get("model"), "messages": messages}
    for key in _PASSED:
        if key in payload:
            chat[key] = payload[key]
    if isinstance(payload.get("max_output_tokens"), int):
        chat["max_tokens"] = payload["max_output_tokens"]
    tools = []
    for tool in payload.get("tools") or []:
        if not isinstance(tool, dict):
            continue
        if tool.get("type") == GATEWAY_TOOL:
            tools.append(tool)
        elif tool.get("type") == "function":
            function = {k: tool[k] for k in ("name", "description", "parameters") if k in tool}
            tools.append({"type": "function", "function": function})
        else:
            raise BadRequest(
                f"tool type '{tool.get('type')}' is not supported here: use function or mcp tools"
            )
    if tools:
        chat["tools"] = tools
    return chat


def _item(item: Any) -> list[dict[str, Any]]:
    if not isinstance(item, dict):
        raise BadRequest("each input item must be an object")
    kind = item.get("type", "message")
    if kind == "message":
        content = item.get("content")
        if isinstance(content, list):
            text = "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
        else:
            text = str(content or "")
        role = item.get("role", "user")
        return [{"role": "system" if role == "developer" else role, "content": text}]
    if kind == "function_call":
        call = {
            "id": item.get("call_id", ""),
            "type": "function",
            "function": {"name": item.get("name", ""), "arguments": item.get("arguments", "{}")},
        }
        return [{"role": "assistant", "content": None, "tool_calls": [call]}]
    if kind == "function_call_output":
        output = item.get("output", "")
        if isinstance(output, list):  # content parts (input_text...): the model reads their text
            output = "".join(str(p.get("text", "")) for p in output if isinstance(p, dict))
        return [{"role": "tool", "tool_call_id": item.get("call_id", ""), "content": str(output)}]
    if kind in ("mcp_call", "reasoning"):
        return []  # the gateway's own earlier work: already reflected in the conversation's text
    raise BadRequest(f"input item type '{kind}' is not supported")


async def responses(
    proxy: LlmProxy, exchange: Exchange, call: ModelCall, payload: dict[str, Any], size: int
) -> None:
    chat = to_chat(payload)
    if any(isinstance(t, dict) and t.get("type") == GATEWAY_TOOL for t in chat.get("tools", [])):
        result = await run_loop(proxy, exchange, call, chat)
    else:
        answer, step = await model_step(proxy, exchange.headers, call, chat)
        call.usage, call.target, call.attempts, call.hold, call.ttft = (
            step.usage,
            step.target,
            step.attempts,
            step.hold,
            step.ttft,
        )
        usage = step.usage
        answer["usage"] = {
            "prompt_tokens": usage.prompt if usage else 0,
            "completion_tokens": usage.completion if usage else 0,
        }
        result = LoopResult(answer, 1, [])
    render = guard_render(call.output, "openai")
    if render is not None:
        result.body = render(result.body)
    response = to_response(call, payload, result)
    if call.stream:
        await stream_response(exchange, call, response)
    else:
        await send_json(exchange.send, 200, response, [(b"x-request-id", call.request_id.encode())])


def to_response(call: ModelCall, payload: dict[str, Any], result: LoopResult) -> dict[str, Any]:
    output: list[dict[str, Any]] = []
    for ran in result.calls:
        output.append(
            {
                "type": "mcp_call",
                "id": f"mcp_{uuid.uuid4().hex[:24]}",
                "server_label": "broker",
                "name": ran["name"],
                "arguments": json.dumps(ran["arguments"]),
                "output": None if ran["error"] else ran["output"],
                "error": ran["output"] if ran["error"] else None,
            }
        )
    message = result.body["choices"][0]["message"]
    for tool_call in message.get("tool_calls") or []:
        function = tool_call.get("function", {})
        output.append(
            {
                "type": "function_call",
                "id": f"fc_{uuid.uuid4().hex[:24]}",
                "status": "completed",
                "call_id": tool_call.get("id", ""),
                "name": function.get("name", ""),
                "arguments": function.get("arguments", "{}"),
            }
        )
    if message.get("content"):
        output.append(
            {
                "type": "message",
                "id": f"msg_{uuid.uuid4().hex[:24]}",
                "role": "assistant",
                "status": "completed",
                "content": [{"type": "output_text", "text": message["content"], "annotations": []}],
            }
        )
    usage = result.body.get("usage") or {}
    prompt, completion = int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)
    return {
        "id": f"resp_{call.request_id}",
        "object": "response",
        "created_at": int(time.time()),
        "status": "completed",
        "model": payload.get("model"),
        "output": output,
        "parallel_tool_calls": True,
        "tool_choice": payload.get("tool_choice", "auto"),
        "tools": payload.get("tools") or [],
        "error": None,
        "incomplete_details": None,
        "instructions": payload.get("instructions"),
        "metadata": payload.get("metadata") or {},
        "temperature": payload.get("temperature"),
        "top_p": payload.get("top_p"),
        "max_output_tokens": payload.get("max_output_tokens"),
        "previous_response_id": None,
        "text": {"format": {"type": "text"}},
        "truncation": "disabled",
        "store": False,
        "usage": {
            "input_tokens": prompt,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": completion,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": prompt + completion,
        },
    }


async def stream_response(exchange: Exchange, call: ModelCall, response: dict[str, Any]) -> None:
    """The Responses event stream for a finished response (the loop ran before the first byte)."""
    headers = [
        (b"content-type", b"text/event-stream"),
        (b"cache-control", b"no-cache"),
        (b"x-request-id", call.request_id.encode()),
    ]
    await exchange.send({"type": "http.response.start", "status": 200, "headers": headers})
    sequence = 0

    async def emit(kind: str, data: dict[str, Any]) -> None:
        nonlocal sequence
        event = {"type": kind, "sequence_number": sequence, **data}
        sequence += 1
        body = f"event: {kind}\ndata: {json.dumps(event, separators=(',', ':'))}\n\n".encode()
        await exchange.send({"type": "http.response.body", "body": body, "more_body": True})
        call.first_byte()

    pending = {**response, "status": "in_progress", "output": [], "usage": None}
    await emit("response.created", {"response": pending})
    await emit("response.in_progress", {"response": pending})
    for index, item in enumerate(response["output"]):
        if item["type"] != "message":
            await emit("response.output_item.added", {"output_index": index, "item": item})
            await emit("response.output_item.done", {"output_index": index, "item": item})
            continue
        text = item["content"][0]["text"]
        empty = {**item, "status": "in_progress", "content": []}
        where = {"output_index": index, "item_id": item["id"], "content_index": 0}
        await emit("response.output_item.added", {"output_index": index, "item": empty})
        await emit(
            "response.content_part.added",
            {**where, "part": {"type": "output_text", "text": "", "annotations": []}},
        )
        for start in range(0, len(text), 32):
            await emit(
                "response.output_text.delta", {**where, "delta": text[start : start + 32], "logprobs": []}
            )
        await emit("response.output_text.done", {**where, "text": text, "logprobs": []})
        await emit("response.content_part.done", {**where, "part": item["content"][0]})
        await emit("response.output_item.done", {"output_index": index, "item": item})
    await emit("response.completed", {"response": response})
    await exchange.send({"type": "http.response.body", "body": b"", "more_body": False})
