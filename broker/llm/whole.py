"""One chat completion read whole, for the gateway's own model calls (the tool loop's steps,
sampling requests it serves): admitted against the agent's budgets and rate limits, sent to the
route's targets with the proxy's retries and fallbacks, read, and metered on the call.

The caller finishes the call (`Metering.finish`: settle, ledger, metrics) once, whatever happens.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from broker.llm.catalog import Target
from broker.llm.errors import UpstreamError
from broker.llm.metering import ModelCall
from broker.llm.tokens import estimate_messages, reservation_tokens
from broker.llm.translate import chat_to_messages, message_to_chat
from broker.llm.usage import Usage, anthropic_usage, openai_usage

if TYPE_CHECKING:
    from broker.llm.proxy import LlmProxy


async def complete_whole(
    proxy: LlmProxy,
    call: ModelCall,
    body: dict[str, Any],
    headers: Mapping[str, str],
    max_tokens: int | None = None,
) -> dict[str, Any]:
    """The answer of `call.route` to the chat completion `body`, in the chat completion shape."""
    route = call.route
    assert route is not None
    encoded = json.dumps(body).encode()
    rules = proxy.rules_for(call.agent)
    if not rules.empty:
        demand = proxy.metering.demand(route, reservation_tokens(len(encoded)), max_tokens)
        await proxy.metering.admit(call, rules, demand)
    default_max = proxy.metering.default_max_tokens
    opened = await proxy.open(
        call, route, lambda target: _for(body, target, default_max), dict(headers), endpoint="chat"
    )
    response = opened.response
    try:
        raw = await response.aread()
    finally:
        await response.aclose()
    provider = opened.target.provider.name
    if response.status_code >= 400:
        raise UpstreamError(f"provider '{provider}' answered HTTP {response.status_code}")
    try:
        answer = json.loads(opened.target.provider.scrub(raw))
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        raise UpstreamError(f"provider '{provider}' answered with something other than JSON")
    if opened.target.provider.kind == "anthropic":
        usage = anthropic_usage(answer.get("usage"))
        answer = message_to_chat(answer)
    else:
        usage = openai_usage(answer)
    call.usage = usage or Usage(estimate_messages(body.get("messages")), estimated=True)
    call.first_byte()
    whole: dict[str, Any] = answer
    return whole


def _for(body: dict[str, Any], target: Target, default_max_tokens: int) -> bytes:
    if target.provider.kind == "anthropic":
        return json.dumps(chat_to_messages(body, target.model, default_max_tokens)).encode()
    return json.dumps({**body, "model": target.model}).encode()
