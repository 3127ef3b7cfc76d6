"""The tool loop on Anthropic's face: /v1/messages with `{"type": "mcp"}` among its `tools`.

The Messages request is translated to the chat completion it means (system, text, `tool_use`
and `tool_result` blocks, custom tools as functions, tool choice, sampling options), the same
loop as /v1/chat/completions runs it (toolloop.py: the agent's granted tools, every call
through the tool pipeline, every step admitted and metered under one request id; any
provider kind), and the final answer goes back as an Anthropic message, whole or as the
Messages event stream (synthesised: the loop has finished before the first byte). A call
to one of the client's own tools ends the loop and comes back as a `tool_use` block.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from broker.guard.answers import guard_render
from broker.llm.asgi import Exchange, send_json
from broker.llm.errors import BadRequest
from broker.llm.metering import ModelCall
from broker.llm.toolloop import GATEWAY_TOOL, LoopResult, run_loop

if TYPE_CHECKING:
    from broker.llm.proxy import LlmProxy

STOP = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use", "content_filter": "refusal"}
_COPIED = ("temperature", "top_p", "max_tokens")


def messages_to_chat(payload: dict[str, Any]) -> dict[str, Any]:
    """The chat completion request an Anthropic Messages request means."""
    messages: list[dict[str, Any]] = []
    system = _text(payload.get("system"))
    if system:
        messages.append({"role": "system", "content": system})
    turns = payload.get("messages")
    if not isinstance(turns, list):
        raise BadRequest("'messages' is required: a list of {role, content} turns")
    for turn in turns:
        if not isinstance(turn, dict) or turn.get("role") not in ("user", "assistant"):
            raise BadRequest("each message needs a role of 'user' or 'assistant'")
        messages.extend(_turn(turn["role"], turn.get("content")))
    chat: dict[str, Any] = {"model": payload.get("model"), "messages": messages}
    chat.update({key: payload[key] for key in _COPIED if key in payload})
    if isinstance(payload.get("stop_sequences"), list):
        chat["stop"] = payload["stop_sequences"]
    user = (
        (payload.get("metadata") or {}).get("user_id") if isinstance(payload.get("metadata"), dict) else None
    )
    if isinstance(user, str):
        chat["user"] = user
    tools: list[dict[str, Any]] = []
    for tool in payload.get("tools") or ():
        if not isinstance(tool, dict):
            continue
        if tool.get("type") == GATEWAY_TOOL:
            tools.append(tool)
        elif isinstance(tool.get("name"), str) and tool.get("type") in (None, "custom"):
            function = {"name": tool["name"], "parameters": tool.get("input_schema") or {"type": "object"}}
            if tool.get("description"):
                function["description"] = tool["description"]
            tools.append({"type": "function", "function": function})
        else:
            raise BadRequest(
                f"tool type '{tool.get('type')}' is not supported with the gateway's tools: "
                'use custom tools (name, input_schema) beside {"type": "mcp"}'
            )
    chat["tools"] = tools
    choice = _tool_choice(payload.get("tool_choice"))
    if choice is not None:
        chat["tool_choice"] = choice
    return chat


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            str(block.get("text", ""))
            for block in content
            if isinstance(block, dict) and block.get("type") == "text"
        )
    return ""


def _turn(role: str, content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"role": role, "content": content}]
    if not isinstance(content, list):
        raise BadRequest("a message's content is a string or a list of content blocks")
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    out: list[dict[str, Any]] = []
    for block in content:
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "text":
            texts.append(str(block.get("text", "")))
        elif kind == "tool_use":
            function = {"name": str(block.get("name", "")), "arguments": json.dumps(block.get("input") or {})}
            calls.append({"id": str(block.get("id", "")), "type": "function", "function": function})
        elif kind == "tool_result":
            result = {"role": "tool", "tool_call_id": str(block.get("tool_use_id", "")),
                      "content": _text(block.get("content"))}  # fmt: skip
            out.append(result)  # results answer the previous turn's calls: they come first
    if role == "assistant":
        reply: dict[str, Any] = {"role": "assistant", "content": "".join(texts) or None}
        if calls:
            reply["tool_calls"] = calls
        out.append(reply)
    elif texts:
        out.append({"role": "user", "content": "\n".join(texts)})
    return out


def _tool_choice(choice: Any) -> Any:
    if not isinstance(choice, dict):
        return None
    kind = choice.get("type")
    if kind in ("auto", "none"):
        return kind
    if kind == "any":
        return "required"
    if kind == "tool" and isinstance(choice.get("name"), str):
        return {"type": "function", "function": {"name": choice["name"]}}
    return None


def chat_to_message(call: ModelCall, payload: dict[str, Any], result: LoopResult) -> dict[str, Any]:
    """The Anthropic message for the loop's final chat completion."""
    choice = result.body["choices"][0]
    message = choice.get("message") or {}
    content: list[dict[str, Any]] = []
    if message.get("content"):
        content.append({"type": "text", "text": str(message["content"])})
    for tool_call in message.get("tool_calls") or ():
        function = tool_call.get("function") or {}
        try:
            arguments = json.loads(function.get("arguments") or "{}")
        except ValueError:
            arguments = {}
        content.append({"type": "tool_use", "id": str(tool_call.get("id", "")),
                        "name": str(function.get("name", "")), "input": arguments})  # fmt: skip
    usage = result.body.get("usage") or {}
    return {
        "id": f"msg_{call.request_id}",
        "type": "message",
        "role": "assistant",
        "model": payload.get("model"),
        "content": content,
        "stop_reason": STOP.get(str(choice.get("finish_reason")), "end_turn"),
        "stop_sequence": None,
        "usage": {
            "input_tokens": int(usage.get("prompt_tokens") or 0),
            "output_tokens": int(usage.get("completion_tokens") or 0),
        },
        "broker": {"steps": result.steps, "tool_calls": [c["name"] for c in result.calls]},
    }


async def messages_with_tools(
    proxy: LlmProxy, exchange: Exchange, call: ModelCall, payload: dict[str, Any]
) -> None:
    result = await run_loop(proxy, exchange, call, messages_to_chat(payload))
    message = chat_to_message(call, payload, result)
    render = guard_render(call.output, "anthropic")
    if render is not None:
        message = render(message)
    if call.stream:
        await stream_message(exchange, call, message)
    else:
        await send_json(exchange.send, 200, message, [(b"x-request-id", call.request_id.encode())])


async def stream_message(exchange: Exchange, call: ModelCall, message: dict[str, Any]) -> None:
    """The Messages event stream for a finished message."""
    headers = [
        (b"content-type", b"text/event-stream"),
        (b"cache-control", b"no-cache"),
        (b"x-request-id", call.request_id.encode()),
    ]
    await exchange.send({"type": "http.response.start", "status": 200, "headers": headers})

    async def emit(kind: str, data: dict[str, Any]) -> None:
        body = f"event: {kind}\ndata: {json.dumps({'type': kind, **data}, separators=(',', ':'))}\n\n"
        await exchange.send({"type": "http.response.body", "body": body.encode(), "more_body": True})
        call.first_byte()

    usage = message["usage"]
    start = {**message, "content": [], "stop_reason": None, "usage": {**usage, "output_tokens": 0}}
    start.pop("broker", None)
    await emit("message_start", {"message": start})
    for index, block in enumerate(message["content"]):
        if block["type"] == "text":
            await emit("content_block_start", {"index": index, "content_block": {"type": "text", "text": ""}})
            text = block["text"]
            for at in range(0, len(text), 32):
                delta = {"type": "text_delta", "text": text[at : at + 32]}
                await emit("content_block_delta", {"index": index, "delta": delta})
        else:
            await emit("content_block_start", {"index": index, "content_block": {**block, "input": {}}})
            delta = {"type": "input_json_delta", "partial_json": json.dumps(block["input"])}
            await emit("content_block_delta", {"index": index, "delta": delta})
        await emit("content_block_stop", {"index": index})
    stop = {"stop_reason": message["stop_reason"], "stop_sequence": None}
    await emit("message_delta", {"delta": stop, "usage": {"output_tokens": usage["output_tokens"]}})
    await emit("message_stop", {})
    await exchange.send({"type": "http.response.body", "body": b"", "more_body": False})
