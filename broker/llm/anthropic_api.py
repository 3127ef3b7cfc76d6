"""Anthropic's Messages API: /v1/messages (whole or streamed), for clients that speak it.

Routed to Anthropic providers; with the agent's MCP tools (`{"type": "mcp"}` in `tools`) the
gateway runs the tool loop (messages_loop.py), on any provider kind. Anthropic always reports
usage, in a stream too (`message_start` has the input, `message_delta` the output so far); a
stream cut off before its last `message_delta` is charged an estimate of the text delivered.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from broker.guard.answers import guard_render, guard_stream
from broker.llm.asgi import Exchange
from broker.llm.catalog import Target
from broker.llm.messages_loop import messages_with_tools
from broker.llm.metering import ModelCall
from broker.llm.openai_api import NO_DEMAND, positive_int
from broker.llm.relay import is_event_stream, relay_stream, relay_whole
from broker.llm.tokens import estimate_messages, estimate_text, reservation_tokens, texts_of
from broker.llm.toolloop import wants_gateway_tools
from broker.llm.usage import AnthropicStreamMeter, Usage, anthropic_stream_usage, anthropic_usage

if TYPE_CHECKING:
    from broker.llm.proxy import LlmProxy


async def messages(
    proxy: LlmProxy, exchange: Exchange, call: ModelCall, payload: dict[str, Any], size: int
) -> None:
    if wants_gateway_tools(payload):
        await messages_with_tools(proxy, exchange, call, payload)
        return
    route = call.route
    assert route is not None
    rules = proxy.rules_for(call.agent)
    if rules.empty:
        demand = NO_DEMAND
    else:
        demand = proxy.metering.demand(
            route, reservation_tokens(size), positive_int(payload.get("max_tokens"))
        )
    await proxy.metering.admit(call, rules, demand)

    def body_for(target: Target) -> bytes:
        return json.dumps({**payload, "model": target.model}).encode()

    def prompt_estimate() -> int:
        return estimate_messages(payload.get("messages"), payload.get("system"))

    opened = await proxy.open(call, route, body_for, exchange.headers)
    if call.stream and is_event_stream(opened):
        meter = AnthropicStreamMeter()
        await relay_stream(exchange, call, opened, meter, translate=guard_stream(call.output, "anthropic"))
        call.usage = anthropic_stream_usage(meter, prompt_estimate)
        return

    def on_body(body: Any) -> None:
        usage = anthropic_usage(body.get("usage")) if isinstance(body, dict) else None
        if usage is None:
            content = body.get("content") if isinstance(body, dict) else None
            completion = sum(estimate_text(t) for t in texts_of(content))
            usage = Usage(prompt_estimate(), completion, estimated=True)
        call.usage = usage

    await relay_whole(exchange, call, opened, on_body, render=guard_render(call.output, "anthropic"))
