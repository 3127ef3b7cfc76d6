"""OpenAI-compatible endpoints: /v1/chat/completions (whole or streamed) and /v1/embeddings.

The request goes upstream as the client sent it, with the model replaced by the target's own
id. A streamed call asks the provider for usage (`stream_options.include_usage`); when the
client had not asked for it, the usage-only chunk is kept from the client. A route target on
an Anthropic provider is reached through its Messages API, translated both ways.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from broker.guard.answers import guard_render, guard_stream
from broker.llm.accounts import Demand
from broker.llm.asgi import Exchange
from broker.llm.catalog import Target
from broker.llm.metering import ModelCall
from broker.llm.relay import is_event_stream, relay_stream, relay_whole
from broker.llm.tokens import estimate_input, estimate_messages, estimate_text, reservation_tokens
from broker.llm.toolloop import run_loop, send_completion, send_final, wants_gateway_tools
from broker.llm.translate import StreamTranslator, chat_to_messages, message_to_chat
from broker.llm.upstream import Opened
from broker.llm.usage import (
    AnthropicStreamMeter,
    OpenAIStreamMeter,
    Usage,
    anthropic_stream_usage,
    anthropic_usage,
    completed,
    openai_completion_text,
    openai_usage,
)

if TYPE_CHECKING:
    from broker.llm.proxy import LlmProxy

NO_DEMAND = Demand(0, 0.0)


def positive_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


async def chat_completions(
    proxy: LlmProxy, exchange: Exchange, call: ModelCall, payload: dict[str, Any], size: int
) -> None:
    route = call.route
    assert route is not None
    options = payload.get("stream_options")
    asked_usage = isinstance(options, dict) and options.get("include_usage") is True
    if wants_gateway_tools(payload):
        result = await run_loop(proxy, exchange, call, payload)
        render = guard_render(call.output, "openai")
        if render is not None:
            result.body = render(result.body)
        await send_final(exchange, call, result, include_usage=asked_usage)
        return
    where = None
    if route.semantic_cache is not None and proxy.semantic is not None:
        where, cached = await proxy.semantic.lookup(proxy, call, payload, exchange.headers)
        if cached is not None:
            render = guard_render(call.output, "openai")
            cached["broker"] = {"cache": "hit"}
            body = render(cached) if render is not None else cached
            await send_completion(exchange, call, body, include_usage=asked_usage)
            return
    rules = proxy.rules_for(call.agent)
    if rules.empty:
        demand = NO_DEMAND
    else:
        max_tokens = positive_int(payload.get("max_completion_tokens")) or positive_int(
            payload.get("max_tokens")
        )
        demand = proxy.metering.demand(route, reservation_tokens(size), max_tokens)
    await proxy.metering.admit(call, rules, demand)
    inject = call.stream and not asked_usage

    def body_for(target: Target) -> bytes:
        if target.provider.kind == "anthropic":
            translated = chat_to_messages(payload, target.model, proxy.metering.default_max_tokens)
            return json.dumps(translated).encode()
        out = {**payload, "model": target.model}
        if inject:
            out["stream_options"] = {**(options if isinstance(options, dict) else {}), "include_usage": True}
        return json.dumps(out).encode()

    def prompt_estimate() -> int:
        return estimate_messages(payload.get("messages"))

    opened = await proxy.open(call, route, body_for, exchange.headers)
    if opened.target.provider.kind == "anthropic":
        await _from_anthropic(exchange, call, opened, prompt_estimate, include_usage=asked_usage)
    elif call.stream and is_event_stream(opened):
        meter = OpenAIStreamMeter(strip_usage=inject)
        await relay_stream(exchange, call, opened, meter, translate=guard_stream(call.output, "openai"))
        call.usage = completed(meter.usage, prompt_estimate, meter.delivered_text)
        if where is not None and call.status == "ok" and proxy.semantic is not None:
            answer = {
                "object": "chat.completion",
                "model": payload.get("model"),
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": meter.delivered_text()},
                        "finish_reason": "stop",
                    }
                ],
            }
            await proxy.semantic.store(where, answer, call.usage, _cost(call))
    else:

        def on_body(body: Any) -> None:
            usage = openai_usage(body)
            if usage is None:
                usage = Usage(prompt_estimate(), estimate_text(openai_completion_text(body)), estimated=True)
            call.usage = usage

        stored: list[Any] = []
        keep = where is not None and proxy.semantic is not None
        render = guard_render(call.output, "openai")

        def on_answer(body: Any) -> None:
            on_body(body)
            if keep and isinstance(body, dict) and body.get("choices"):
                # A copy only where the guardrails' render will change the answer (it restores
                # tokens in place): a copy of every answer was ~5% of a call's CPU, for a store
                # most routes never make.
                stored.append(json.loads(json.dumps(body)) if render is not None else body)

        await relay_whole(exchange, call, opened, on_answer, render=render)
        if where is not None and stored and call.status == "ok" and proxy.semantic is not None:
            await proxy.semantic.store(where, stored[0], call.usage or Usage(), _cost(call))


async def _from_anthropic(
    exchange: Exchange,
    call: ModelCall,
    opened: Opened,
    prompt_estimate: Callable[[], int],
    *,
    include_usage: bool,
) -> None:
    """A chat completion answered by an Anthropic provider, translated on the way back."""
    if call.stream and is_event_stream(opened):
        meter = AnthropicStreamMeter()
        translator = StreamTranslator(include_usage=include_usage)
        translate = guard_stream(call.output, "openai", translator.event)
        await relay_stream(exchange, call, opened, meter, translate=translate)
        call.usage = anthropic_stream_usage(meter, prompt_estimate)
        return

    def on_body(body: Any) -> None:
        usage = anthropic_usage(body.get("usage")) if isinstance(body, dict) else None
        call.usage = usage or Usage(prompt_estimate(), estimated=True)

    await relay_whole(
        exchange, call, opened, on_body, render=guard_render(call.output, "openai", message_to_chat)
    )


async def embeddings(
    proxy: LlmProxy, exchange: Exchange, call: ModelCall, payload: dict[str, Any], size: int
) -> None:
    route = call.route
    assert route is not None
    call.stream = False
    rules = proxy.rules_for(call.agent)
    demand = NO_DEMAND if rules.empty else proxy.metering.demand(route, reservation_tokens(size), 0)
    await proxy.metering.admit(call, rules, demand)

    def body_for(target: Target) -> bytes:
        return json.dumps({**payload, "model": target.model}).encode()

    opened = await proxy.open(call, route, body_for, exchange.headers)

    def on_body(body: Any) -> None:
        call.usage = openai_usage(body) or Usage(estimate_input(payload.get("input")), estimated=True)

    await relay_whole(exchange, call, opened, on_body)


def _cost(call: ModelCall) -> float:
    price = call.target.price if call.target is not None else None
    return price.cost(call.usage) if price is not None and call.usage is not None else 0.0
